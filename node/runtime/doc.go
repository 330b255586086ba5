// Package runtime composes the engine, networking, wallet and lending policy into one node that the GUI and CLI drive.
package runtime

// Package hardware reads hardware telemetry and decides when this machine may lend its resources.
package hardware

// Package chat renders chat templates and manages conversations.
package chat

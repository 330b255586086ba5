package chat

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON writes the conversation as indented JSON (the same fields the
// store keeps; it reads back with encoding/json into a Conversation).
func (c *Conversation) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("export conversation %s as JSON: %w", c.ID, err)
	}
	return nil
}

// WriteMarkdown writes the conversation as a readable Markdown document: a
// title, the model and dates, the system prompt as a quote, and one section
// per message.
func (c *Conversation) WriteMarkdown(w io.Writer) error {
	var sb strings.Builder
	title := c.Title
	if title == "" {
		title = "Conversation " + c.ID
	}
	fmt.Fprintf(&sb, "# %s\n\n", oneLine(title))
	if c.Model != "" {
		fmt.Fprintf(&sb, "- Model: %s\n", oneLine(c.Model))
	}
	if !c.Created.IsZero() {
		fmt.Fprintf(&sb, "- Created: %s\n", c.Created.Format(time.RFC3339))
	}
	if !c.Updated.IsZero() {
		fmt.Fprintf(&sb, "- Updated: %s\n", c.Updated.Format(time.RFC3339))
	}
	sb.WriteString("\n")
	if s := strings.TrimSpace(c.System); s != "" {
		sb.WriteString("> **System:** " + strings.ReplaceAll(s, "\n", "\n> ") + "\n\n")
	}
	for _, m := range c.Messages {
		fmt.Fprintf(&sb, "## %s", roleTitle(m.Role))
		if !m.Time.IsZero() {
			fmt.Fprintf(&sb, " · %s", m.Time.Format("2006-01-02 15:04"))
		}
		sb.WriteString("\n\n" + strings.TrimRight(m.Content, "\n") + "\n\n")
	}
	if _, err := io.WriteString(w, sb.String()); err != nil {
		return fmt.Errorf("export conversation %s as Markdown: %w", c.ID, err)
	}
	return nil
}

// ExportJSON writes the stored conversation id as JSON to w.
func (s *Store) ExportJSON(w io.Writer, id string) error {
	c, err := s.Get(id)
	if err != nil {
		return err
	}
	return c.WriteJSON(w)
}

// ExportMarkdown writes the stored conversation id as Markdown to w.
func (s *Store) ExportMarkdown(w io.Writer, id string) error {
	c, err := s.Get(id)
	if err != nil {
		return err
	}
	return c.WriteMarkdown(w)
}

func roleTitle(role string) string {
	switch role {
	case RoleUser:
		return "You"
	case RoleAssistant:
		return "Assistant"
	case RoleSystem:
		return "System"
	case "":
		return "Unknown"
	}
	r := []rune(role)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

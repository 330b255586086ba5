package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// Limits that keep a broken or hostile template from running away. gonja
// cannot be interrupted from outside, so they act where a template touches
// this package: range() is bounded, and output is refused past a size or a
// time budget, which aborts the render. Templates can reach no files
// ({% include %} sees only the template itself) and a panic inside gonja is
// recovered as an error.
const (
	maxTemplateBytes = 1 << 20          // source size accepted from a GGUF file
	maxRenderBytes   = 16 << 20         // rendered prompt size
	maxRangeLen      = 1 << 14          // elements produced by range()
	renderBudget     = 10 * time.Second // wall time after which output is refused
)

// Errors that stop a render from inside its output writer.
var (
	errOutputTooLarge = errors.New("rendered prompt is larger than 16 MiB")
	errRenderTooSlow  = errors.New("template took longer than 10s to render")
)

// jinjaEnv is the gonja environment every chat template runs in: the stock
// Jinja built-ins plus what Hugging Face's apply_chat_template adds
// (raise_exception, strftime_now, a Python-compatible tojson). It is built
// once; gonja copies the context per render, so it is safe for concurrent use.
var jinjaEnv = sync.OnceValue(func() *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	if err := filters.Replace("tojson", filterToJSON); err != nil {
		panic(err) // programmer error: gonja always has tojson
	}
	ctx := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	ctx.Set("range", rangeList)
	return &exec.Environment{
		Context:           ctx,
		Filters:           filters,
		Tests:             exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests),
		ControlStructures: exec.NewControlStructureSet(map[string]parser.ControlStructureParser{}).Update(builtins.ControlStructures),
		Methods:           builtins.Methods,
	}
})

// jinjaConfig matches the settings transformers uses for chat templates:
// trim_blocks and lstrip_blocks on, no autoescape.
func jinjaConfig() *config.Config {
	c := config.New()
	c.TrimBlocks = true
	c.LeftStripBlocks = true
	c.KeepTrailingNewline = false
	return c
}

// compileJinja parses a chat template. The template can only include other
// templates of its own in-memory set (none), never files.
func compileJinja(src string) (tpl *exec.Template, err error) {
	if len(src) > maxTemplateBytes {
		return nil, fmt.Errorf("%w: template is %d bytes", ErrBadTemplate, len(src))
	}
	defer func() {
		if r := recover(); r != nil {
			tpl, err = nil, fmt.Errorf("%w: parser panicked: %v", ErrBadTemplate, r)
		}
	}()
	loader, err := loaders.NewMemoryLoader(map[string]string{"/chat_template": src})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTemplate, err)
	}
	tpl, err = exec.NewTemplate("/chat_template", jinjaConfig(), loader, jinjaEnv())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTemplate, err)
	}
	return tpl, nil
}

// executeJinja renders tpl with vars, turning raise_exception into
// ErrTemplateRaised and any other failure (including a panic inside gonja)
// into ErrRender.
func executeJinja(tpl *exec.Template, vars map[string]any, now time.Time) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("%w: template engine panicked: %v", ErrRender, r)
		}
	}()
	var raised *string
	ctx := exec.NewContext(vars)
	ctx.Set("raise_exception", func(args *exec.VarArgs) (string, error) {
		msg := "raise_exception called"
		if len(args.Args) > 0 {
			msg = args.Args[0].String()
		}
		raised = &msg
		return "", errors.New(msg)
	})
	ctx.Set("strftime_now", func(args *exec.VarArgs) (string, error) {
		if len(args.Args) != 1 || !args.Args[0].IsString() {
			return "", errors.New("strftime_now expects one format string")
		}
		return strftime(now, args.Args[0].String()), nil
	})
	buf := limitedBuffer{deadline: time.Now().Add(renderBudget)}
	if err := tpl.Execute(&buf, ctx); err != nil {
		if raised != nil {
			return "", fmt.Errorf("%w: %s", ErrTemplateRaised, *raised)
		}
		if buf.refused != nil {
			return "", fmt.Errorf("%w: %w", ErrRender, buf.refused)
		}
		return "", fmt.Errorf("%w: %w", ErrRender, err)
	}
	return buf.String(), nil
}

// limitedBuffer collects output, refusing to grow past maxRenderBytes or to
// take writes after its deadline. (It wraps rather than embeds a
// bytes.Buffer, so io.WriteString cannot bypass the checks.)
type limitedBuffer struct {
	buf      bytes.Buffer
	deadline time.Time
	refused  error
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	switch {
	case b.buf.Len()+len(p) > maxRenderBytes:
		b.refused = errOutputTooLarge
	case time.Now().After(b.deadline):
		b.refused = errRenderTooSlow
	}
	if b.refused != nil {
		return 0, b.refused
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string { return b.buf.String() }

var _ io.Writer = (*limitedBuffer)(nil)

// rangeList is Python's range() returning a bounded list (gonja's own streams
// through a goroutine that leaks when a loop breaks early).
func rangeList(args *exec.VarArgs) ([]int, error) {
	n := make([]int, len(args.Args))
	for i, a := range args.Args {
		if !a.IsInteger() {
			return nil, fmt.Errorf("range argument %d is not an integer", i+1)
		}
		n[i] = a.Integer()
	}
	start, stop, step := 0, 0, 1
	switch len(n) {
	case 1:
		stop = n[0]
	case 2:
		start, stop = n[0], n[1]
	case 3:
		start, stop, step = n[0], n[1], n[2]
	default:
		return nil, errors.New("range expects 1 to 3 integer arguments")
	}
	if step == 0 {
		return nil, errors.New("range step must not be 0")
	}
	out := []int{}
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) == maxRangeLen {
			return nil, fmt.Errorf("range longer than %d elements", maxRangeLen)
		}
		out = append(out, i)
	}
	return out, nil
}

// filterToJSON is Python's json.dumps as transformers' tojson calls it:
// separators ", " and ": ", non-ASCII kept, keys sorted only when asked
// (Go maps have no order, so they are always sorted here), optional indent.
func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	indent := 0
	if v, ok := params.KwArgs["indent"]; ok && !v.IsNil() {
		if !v.IsInteger() {
			return exec.AsValue(fmt.Errorf("tojson: indent must be an integer, got %s", v.String()))
		}
		indent = v.Integer()
	}
	simple := in.ToGoSimpleType(false)
	if err, ok := simple.(error); ok {
		return exec.AsValue(fmt.Errorf("tojson: %w", err))
	}
	var sb strings.Builder
	if err := writePyJSON(&sb, simple, indent, 0); err != nil {
		return exec.AsValue(fmt.Errorf("tojson: %w", err))
	}
	return exec.AsSafeValue(sb.String())
}

func writePyJSON(sb *strings.Builder, v any, indent, depth int) error {
	if depth > 64 {
		return errors.New("value nested deeper than 64 levels")
	}
	newline := func(d int) {
		if indent > 0 {
			sb.WriteByte('\n')
			sb.WriteString(strings.Repeat(" ", indent*d))
		}
	}
	sep := ", "
	if indent > 0 {
		sep = ","
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			sb.WriteString("{}")
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(sep)
			}
			newline(depth + 1)
			writePyString(sb, k)
			sb.WriteString(": ")
			if err := writePyJSON(sb, x[k], indent, depth+1); err != nil {
				return err
			}
		}
		newline(depth)
		sb.WriteByte('}')
	case []any:
		if len(x) == 0 {
			sb.WriteString("[]")
			return nil
		}
		sb.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				sb.WriteString(sep)
			}
			newline(depth + 1)
			if err := writePyJSON(sb, e, indent, depth+1); err != nil {
				return err
			}
		}
		newline(depth)
		sb.WriteByte(']')
	case string:
		writePyString(sb, x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return err
		}
		sb.Write(b)
	}
	return nil
}

// writePyString quotes s like json.dumps(ensure_ascii=False): only quote,
// backslash and control characters are escaped.
func writePyString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(sb, `\u%04x`, r)
			} else {
				sb.WriteRune(r)
			}
		}
	}
	sb.WriteByte('"')
}

// strftime formats t with Python's strftime directives (the subset chat
// templates use); unknown directives are copied through unchanged.
func strftime(t time.Time, format string) string {
	var sb strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'd':
			fmt.Fprintf(&sb, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&sb, "%2d", t.Day())
		case 'm':
			fmt.Fprintf(&sb, "%02d", int(t.Month()))
		case 'y':
			fmt.Fprintf(&sb, "%02d", t.Year()%100)
		case 'Y':
			fmt.Fprintf(&sb, "%d", t.Year())
		case 'b', 'h':
			sb.WriteString(t.Format("Jan"))
		case 'B':
			sb.WriteString(t.Format("January"))
		case 'a':
			sb.WriteString(t.Format("Mon"))
		case 'A':
			sb.WriteString(t.Format("Monday"))
		case 'H':
			fmt.Fprintf(&sb, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&sb, "%02d", (t.Hour()+11)%12+1)
		case 'M':
			fmt.Fprintf(&sb, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&sb, "%02d", t.Second())
		case 'p':
			sb.WriteString(t.Format("PM"))
		case 'j':
			fmt.Fprintf(&sb, "%03d", t.YearDay())
		case 'Z':
			sb.WriteString(t.Format("MST"))
		case 'z':
			sb.WriteString(t.Format("-0700"))
		case '%':
			sb.WriteByte('%')
		default:
			sb.WriteByte('%')
			sb.WriteByte(format[i])
		}
	}
	return sb.String()
}

package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestOpenAIClient drives the API with OpenAI's official Go client, as a
// tool pointed at Hearth would: chat completions (whole and streamed, the
// same greedy text), legacy completions, the model list, the bearer key and
// OpenAI-style errors, which the client decodes into its Error type.
func TestOpenAIClient(t *testing.T) {
	f := newFixture(t, "sk-local")
	client := openai.NewClient(option.WithBaseURL(f.url+"/v1/"), option.WithAPIKey("sk-local"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model: "stories260K",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You tell stories."),
			openai.UserMessage("Once upon a time"),
		},
		Temperature: openai.Float(0),
		MaxTokens:   openai.Int(24),
	}

	whole, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Choices) != 1 || whole.Choices[0].Message.Content == "" || whole.Model != "stories260K" ||
		whole.Usage.PromptTokens == 0 || whole.Usage.CompletionTokens == 0 || whole.Usage.CompletionTokens > 24 ||
		whole.Usage.TotalTokens != whole.Usage.PromptTokens+whole.Usage.CompletionTokens {
		t.Fatalf("completion %+v", whole)
	}
	if fr := whole.Choices[0].FinishReason; fr != "stop" && fr != "length" {
		t.Errorf("finish reason %q", fr)
	}

	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var text strings.Builder
	chunks := 0
	for stream.Next() {
		c := stream.Current()
		chunks++
		if len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if chunks < 2 || text.String() != whole.Choices[0].Message.Content {
		t.Fatalf("streamed %q in %d chunks, whole reply %q", text.String(), chunks, whole.Choices[0].Message.Content)
	}

	comp, err := client.Completions.New(ctx, openai.CompletionNewParams{
		Model:       "stories260K",
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		Temperature: openai.Float(0),
		MaxTokens:   openai.Int(16),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(comp.Choices) != 1 || comp.Choices[0].Text == "" || comp.Usage.CompletionTokens == 0 {
		t.Fatalf("completion %+v", comp)
	}

	models, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(models.Data, func(m openai.Model) bool { return m.ID == "stories260K" }) {
		t.Fatalf("models %+v", models.Data)
	}

	// An unknown model and a wrong key come back as the client's errors.
	bad := params
	bad.Model = "gpt-4o"
	_, err = client.Chat.Completions.New(ctx, bad)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Message == "" {
		t.Fatalf("unknown model: %v", err)
	}
	wrongKey := openai.NewClient(option.WithBaseURL(f.url+"/v1/"), option.WithAPIKey("sk-wrong"), option.WithMaxRetries(0))
	_, err = wrongKey.Chat.Completions.New(ctx, params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong key: %v", err)
	}
}

// Package chat renders chat templates and manages conversations.
//
// Templates. FromGGUF reads a model's tokenizer.chat_template (Jinja) and
// its BOS/EOS token texts; Render runs it with gonja the way Hugging Face's
// apply_chat_template does (messages, bos_token, eos_token,
// add_generation_prompt, tools=none, raise_exception, strftime_now, a
// Python-style tojson, loop controls, namespace(), trim_blocks and
// lstrip_blocks). Models without a template, or whose template gonja cannot
// run, fall back to a built-in format (ChatML, Llama 2, Llama 3, Phi-3,
// Mistral, Gemma), chosen by Detect the way llama.cpp's
// llm_chat_detect_template does. StopStrings lists the texts that end an
// assistant turn; StopMatcher applies them to streamed output, holding back
// a partial match until it is resolved.
//
//	tpl, err := chat.FromGGUF(file.Header)
//	prompt, err := tpl.Render(conv.Prompt(), true) // ends with the assistant header
//	stop := chat.NewStopMatcher(tpl.StopStrings())
//	for piece := range generated {
//		show, done := stop.Push(piece)
//		ui.Append(show)
//		if done { break }
//	}
//	ui.Append(stop.Flush())
//
// Context window. FitWindow drops the oldest turns that do not fit (never the
// system prompt, never the newest user message) and says so in a notice;
// incremental.go explains how the engine reuses its KV cache across turns
// (CommonPrefix, RenderNext).
//
// Conversations. Store keeps Conversations (messages, title, model, system
// prompt, sampling preset, offload settings) in an embedded bbolt database
// in the data directory (StoreFile), with JSON and Markdown export.
package chat

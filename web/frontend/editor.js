// The task editor's code component: CodeMirror 6 with the languages a task
// is written in (YAML, shell, Python, markdown) and lint diagnostics shown
// in the gutter. scripts/bootstrap bundles this file with esbuild into
// web/static/vendor/editor.js (one file, no CDN); web/static/author.js uses it
// through window.ProctorEditor.
import { basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { StreamLanguage, indentUnit } from "@codemirror/language";
import { setDiagnostics, lintGutter } from "@codemirror/lint";
import { python } from "@codemirror/lang-python";
import { yaml } from "@codemirror/lang-yaml";
import { markdown } from "@codemirror/lang-markdown";
import { shell } from "@codemirror/legacy-modes/mode/shell";

const LANGUAGES = {
  yaml: () => yaml(),
  python: () => python(),
  shell: () => StreamLanguage.define(shell),
  markdown: () => markdown(),
};

const theme = EditorView.theme({
  "&": { fontSize: "13.5px", height: "100%", backgroundColor: "#fff" },
  ".cm-scroller": { fontFamily: 'ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace', lineHeight: "1.5" },
  ".cm-gutters": { backgroundColor: "#f6f8fb", borderRight: "1px solid #dde3ea", color: "#8a96a5" },
  ".cm-activeLineGutter": { backgroundColor: "#e8eef6" },
  "&.cm-focused": { outline: "none" },
});

// create(parent, {language, doc, onChange}) -> handle with value(), setValue(),
// setProblems([{line, message, severity}]), focus(), view.
function create(parent, opts = {}) {
  const lang = LANGUAGES[opts.language] || (() => []);
  const listener = EditorView.updateListener.of((u) => {
    if (u.docChanged && opts.onChange) opts.onChange(u.state.doc.toString());
  });
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: opts.doc || "",
      extensions: [basicSetup, keymap.of([indentWithTab]), lang(), lintGutter(), theme, listener, EditorView.lineWrapping,
                   indentUnit.of(opts.language === "python" ? "    " : "  "),
                   EditorState.tabSize.of(opts.language === "python" ? 4 : 2)],
    }),
  });
  return {
    view,
    value: () => view.state.doc.toString(),
    setValue(text) {
      if (text === view.state.doc.toString()) return;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    // Problems carry a 1-based line (or none: then the first line).
    setProblems(problems) {
      const doc = view.state.doc;
      const diagnostics = (problems || []).map((p) => {
        const n = Math.min(Math.max(p.line || 1, 1), doc.lines);
        const line = doc.line(n);
        return { from: line.from, to: line.to, severity: p.severity || "error", message: p.message };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    focus: () => view.focus(),
  };
}

window.ProctorEditor = { create, languages: Object.keys(LANGUAGES) };

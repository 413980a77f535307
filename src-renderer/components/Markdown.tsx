import { useState, type ComponentPropsWithoutRef, type ReactNode } from 'react';
import ReactMarkdown from 'react-markdown';
import rehypeHighlight from 'rehype-highlight';
import remarkGfm from 'remark-gfm';
import 'highlight.js/styles/github.css';

/** The text of a rendered node tree (for copying a code block as it was written). */
function textOf(node: ReactNode): string {
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  if (Array.isArray(node)) return node.map(textOf).join('');
  if (typeof node === 'object' && node !== null && 'props' in node) {
    return textOf((node.props as { children?: ReactNode }).children);
  }
  return '';
}

function CodeBlock(props: ComponentPropsWithoutRef<'pre'>) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="code-block">
      <button
        type="button"
        className="code-copy"
        data-testid="code-copy"
        aria-label="Copy code"
        onClick={() => {
          void navigator.clipboard.writeText(textOf(props.children).replace(/\n$/, '')).then(() => setCopied(true));
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
      <pre {...props} />
    </div>
  );
}

/**
 * A model's answer as Markdown: GitHub-flavoured (tables, task lists, strikethrough), code highlighted, each code block
 * with a copy button. HTML in the text is never rendered: it shows as the text it is.
 */
export default function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown" data-testid="message-markdown">
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[[rehypeHighlight, { detect: false, ignoreMissing: true }]]}
        components={{ pre: CodeBlock }}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
}

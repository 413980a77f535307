/**
 * Splits a `text/event-stream` body into the data of its events, as bytes arrive: everything one network read
 * completes comes back from one {@link ServerSentEventDecoder.push} call, so a caller can handle a read's events
 * together. Follows the WHATWG rules a chat-completions stream needs: UTF-8 (a character split between reads is
 * kept for the next), lines ended by LF, CRLF or CR, `data:` lines joined with LF, an event dispatched by a blank line
 * when it has data, comments and the other fields ignored.
 *
 * Why not the `openai` SDK's own reader: it copies the rest of its buffer once per event it splits off, so a read
 * holding n events costs O(n²) bytes copied — the biggest cost of a fast stream (see bench/RESULTS.md, `stream`).
 */
export class ServerSentEventDecoder {
  private readonly utf8 = new TextDecoder('utf-8');
  /** The start of a line whose end has not arrived yet. */
  private rest = '';
  /** The data lines of the event being read, joined; null before its first data line. */
  private data: string | null = null;
  /** The last read ended with CR: an LF at the start of the next one belongs to that line end. */
  private afterCarriageReturn = false;

  /** The data of every event the bytes complete, in order. */
  push(bytes: Uint8Array): string[] {
    return this.lines(this.utf8.decode(bytes, { stream: true }));
  }

  /** The data of an event the body ended in without its blank line is dropped, as browsers drop it. */
  end(): string[] {
    return this.lines(this.utf8.decode());
  }

  private lines(decoded: string): string[] {
    let text = decoded;
    if (this.afterCarriageReturn && decoded !== '') {
      this.afterCarriageReturn = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    if (text.includes('\r')) {
      this.afterCarriageReturn = text.endsWith('\r');
      text = text.replace(/\r\n?/g, '\n');
    }
    const buffer = this.rest === '' ? text : this.rest + text;
    const events: string[] = [];
    let start = 0;
    for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n', start)) {
      this.line(buffer, start, end, events);
      start = end + 1;
    }
    this.rest = start === 0 ? buffer : buffer.slice(start);
    return events;
  }

  /** One line, `buffer[start, end)`, read without copying what is ignored. */
  private line(buffer: string, start: number, end: number, events: string[]): void {
    if (start === end) {
      if (this.data !== null) events.push(this.data);
      this.data = null;
      return;
    }
    // The one field that matters here; `event`, `id`, `retry`, unknown fields and `:` comments are skipped.
    if (!buffer.startsWith('data', start)) return;
    let valueStart = start + 4;
    if (valueStart < end) {
      if (buffer.charCodeAt(valueStart) !== 0x3a /* : */) return;
      valueStart += 1;
      if (buffer.charCodeAt(valueStart) === 0x20 /* space */) valueStart += 1;
    }
    const value = buffer.slice(Math.min(valueStart, end), end);
    this.data = this.data === null ? value : `${this.data}\n${value}`;
  }
}

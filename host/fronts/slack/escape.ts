/**
 * Text Bulkhead sends to Slack, escaped as Slack's formatting rules ask: `&`, `<` and `>` become
 * entities. Slack reads `<...>` as a control sequence (`<!channel>` pings a whole channel,
 * `<https://evil.example|your bank>` is a link that shows other text), so a plugin's reply, or
 * a note a user saved, must never reach Slack unescaped.
 *
 * @example
 * escapeSlackText('<!channel> see <https://x|bank>') // '&lt;!channel&gt; see &lt;https://x|bank&gt;'
 */
export function escapeSlackText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

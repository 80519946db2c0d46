const base64urlAlphabet = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes base64url only when `text` is the one canonical encoding of its bytes.
 *
 * Node's decoder is lenient: it skips characters outside the alphabet, and the unused low bits of
 * the last character are ignored, so several strings decode to the same bytes. Anything signed or
 * cached by its text must therefore be decoded with this function.
 */
export function decodeCanonicalBase64url(text: string): Buffer | undefined {
  if (!base64urlAlphabet.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

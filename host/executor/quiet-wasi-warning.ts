/**
 * Extism's SDK imports `node:wasi` when it loads, which prints an ExperimentalWarning in every
 * worker. Bulkhead never enables WASI (plugins importing it are refused), so that one warning is
 * noise; every other warning still goes through. Imported first by the worker for that reason.
 */
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.message;
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if ((type === 'ExperimentalWarning' || (warning instanceof Error && warning.name === 'ExperimentalWarning')) && /^WASI\b/.test(text)) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

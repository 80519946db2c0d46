/**
 * A synchronous question from a worker to the main thread, for host functions whose answer only
 * the main thread can get (the `market` host function: an HTTP fetch with a cache shared by all
 * workers). Host functions are synchronous for the guest, so the worker posts the question and
 * waits on shared memory (Atomics.wait) until the main thread writes the answer there, or until
 * its time is up. The wait is guest time, not native code: a call that runs past its deadline while
 * waiting is stopped by the watchdog like any other.
 *
 * Layout: Int32 slots [answered id, answer length], then the answer's UTF-8 bytes.
 */
export const bridgeLayout = Object.freeze({ answeredId: 0, length: 1, int32Slots: 2, dataByteOffset: 8, dataBytes: 64 * 1024 });

export function createBridge(): SharedArrayBuffer {
  return new SharedArrayBuffer(bridgeLayout.dataByteOffset + bridgeLayout.dataBytes);
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Main thread: writes the answer to question `id` (JSON text) and wakes the worker. */
export function answerBridge(buffer: SharedArrayBuffer, id: number, answer: string): void {
  const slots = new Int32Array(buffer, 0, bridgeLayout.int32Slots);
  const data = new Uint8Array(buffer, bridgeLayout.dataByteOffset, bridgeLayout.dataBytes);
  let { written } = utf8.encodeInto(answer, data);
  if (written === undefined || written > data.byteLength || written < Buffer.byteLength(answer)) {
    written = utf8.encodeInto('{"ok":false,"error":{"code":"BH_INTERNAL_ERROR","message":"The answer was too large for the bridge."}}', data).written;
  }
  Atomics.store(slots, bridgeLayout.length, written);
  Atomics.store(slots, bridgeLayout.answeredId, id);
  Atomics.notify(slots, bridgeLayout.answeredId);
}

/**
 * Worker: waits until question `id` is answered or `waitMs` pass; answers the JSON text, or
 * undefined on time-out. A late answer to an earlier question is ignored.
 */
export function awaitBridge(buffer: SharedArrayBuffer, id: number, waitMs: number): string | undefined {
  const slots = new Int32Array(buffer, 0, bridgeLayout.int32Slots);
  const until = Date.now() + waitMs;
  for (;;) {
    const answered = Atomics.load(slots, bridgeLayout.answeredId);
    if (answered === id) {
      const length = Atomics.load(slots, bridgeLayout.length);
      return fromUtf8.decode(new Uint8Array(buffer, bridgeLayout.dataByteOffset, length).slice());
    }
    const left = until - Date.now();
    if (left <= 0) return undefined;
    Atomics.wait(slots, bridgeLayout.answeredId, answered, left);
  }
}

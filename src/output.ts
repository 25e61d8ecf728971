// Writes text to a stream and says when to wait: a pipe is written asynchronously, so text
// written faster than its reader takes it would otherwise pile up in our memory.

/** Writes `text`; returns a promise when the stream's buffer is full, resolved once it drains (or closes). */
export const writeOrWait =
  (stream: NodeJS.WritableStream) =>
  (text: string): Promise<void> | undefined => {
    if (stream.write(text)) return undefined;
    // A destroyed or ended stream (its reader went away) never drains: nothing to wait for.
    const state = stream as NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean };
    if (state.destroyed || state.writableEnded) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        for (const event of ['drain', 'close', 'error']) stream.off(event, done);
        resolve();
      };
      for (const event of ['drain', 'close', 'error']) stream.on(event, done);
    });
  };

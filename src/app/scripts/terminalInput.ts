/** What reading a secret needs of standard input: a stream, and raw mode when it is a terminal. */
export interface SecretInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/**
 * Asks for a secret on the terminal with echo off: raw mode, so nothing typed is shown; Enter
 * ends it, Backspace deletes, Ctrl-C aborts. Only the prompt (and a newline) is written to `output`.
 */
export function readHiddenLine(input: SecretInput, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  if (!input.isTTY || !input.setRawMode) {
    return Promise.reject(new Error('standard input is not a terminal (use --password-stdin)'));
  }
  const setRawMode = input.setRawMode.bind(input);
  output.write(prompt);
  setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      input.removeListener('data', onData);
      setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}

/** All of standard input, less one final line break: a password piped in by automation. */
export async function readAllInput(input: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of input) text += chunk.toString();
  return text.replace(/\r?\n$/, '');
}

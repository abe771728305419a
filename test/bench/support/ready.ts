/** Children of the benchmarks say where they listen on stderr: `LISTENING <url>`. */
export function announce(url: string): void {
  process.stderr.write(`LISTENING ${url}\n`);
}

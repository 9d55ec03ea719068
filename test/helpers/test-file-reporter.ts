/**
 * A node:test reporter for test/run.ts, beside the TAP one: one JSON line `[file, name]` per
 * top-level test as it starts. TAP names no file, so this is how a subtest that never reported
 * (tap-results.ts) is traced back to the file it came from.
 */
interface StartEvent {
  type: string;
  data: { nesting: number; name: string; file?: string };
}

export default async function* topLevelFiles(source: AsyncIterable<StartEvent>): AsyncGenerator<string> {
  for await (const event of source) {
    if (event.type === 'test:start' && event.data.nesting === 0) yield `${JSON.stringify([event.data.file ?? '(unknown file)', event.data.name])}\n`;
  }
}

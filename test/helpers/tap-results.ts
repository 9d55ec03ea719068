/**
 * Finds subtests that started in node's TAP output but never got a result line. Twice a whole group
 * printed `# Subtest: <name>` and then no `ok` / `not ok`, and the run still passed: node's closing
 * counts only cover tests that reported. So test/run.ts checks the stream itself.
 *
 * TAP nests by indentation (4 spaces per level in node's reporter). A subtest's result comes at its
 * own indentation after those of its children, so starts and results pair up like brackets: a start
 * still open when a sibling or an ancestor starts, or when an ancestor reports, or at the end, never
 * got its result. YAML diagnostic blocks (`---` … `...`) are skipped: an assertion's message may
 * quote TAP text.
 */

/** A started subtest without a result: its name and those of its ancestors, outermost first. */
export interface MissingResult {
  path: string[];
  /** 1-based line of its `# Subtest:` line in the text fed. */
  line: number;
}

interface Open {
  indent: number;
  name: string;
  line: number;
}

const START = /^( *)# Subtest: (.*)$/;
// `ok 3 - name # SKIP why`: node escapes `#` in names, so an unescaped ` # ` starts a directive.
const RESULT = /^( *)(?:not )?ok \d+(?: - (.*?))?(?: # (?:SKIP|TODO)\b.*)?$/;
const YAML_START = /^( *)---$/;

/** Feed it lines as they come; `finish()` at the end of the stream. */
export class TapResultCounter {
  private readonly open: Open[] = [];
  private readonly missing: MissingResult[] = [];
  private lineNo = 0;
  private yamlEnd: string | undefined;

  line(text: string): void {
    this.lineNo += 1;
    const line = text.replace(/\r$/, '');
    if (this.yamlEnd !== undefined) {
      if (line === this.yamlEnd) this.yamlEnd = undefined;
      return;
    }
    const yaml = YAML_START.exec(line);
    if (yaml) {
      this.yamlEnd = `${yaml[1]}...`;
      return;
    }
    const start = START.exec(line);
    if (start) {
      const indent = start[1]!.length;
      this.closeFrom(indent);
      this.open.push({ indent, name: start[2]!, line: this.lineNo });
      return;
    }
    const result = RESULT.exec(line);
    if (result) this.settle(result[1]!.length, result[2] ?? '');
  }

  /** Everything still open has no result; returns all missing results found. */
  finish(): MissingResult[] {
    this.closeFrom(0);
    return [...this.missing];
  }

  /** A result at `indent` settles the subtest open there; deeper ones left open never got theirs. */
  private settle(indent: number, name: string): void {
    this.closeFrom(indent + 1);
    const top = this.open.at(-1);
    if (top && top.indent === indent && top.name === name) this.open.pop();
  }

  /** Records as missing every open subtest at `indent` or deeper (innermost last in the report order). */
  private closeFrom(indent: number): void {
    const firstClosed = this.open.findIndex((o) => o.indent >= indent);
    if (firstClosed < 0) return;
    for (let i = firstClosed; i < this.open.length; i++) {
      this.missing.push({ path: this.open.slice(0, i + 1).map((o) => o.name), line: this.open[i]!.line });
    }
    this.open.length = firstClosed;
  }
}

/** The missing results of a whole TAP text. */
export function missingResults(tap: string): MissingResult[] {
  const counter = new TapResultCounter();
  for (const line of tap.split('\n')) counter.line(line);
  return counter.finish();
}

/**
 * The oldest key of a Map or Set (insertion order), in amortised O(1), for bounded "forget the
 * oldest" collections.
 *
 * Why not `set.delete(set.values().next().value)`: V8 leaves a hole for every deleted entry until
 * the table is rebuilt, and a fresh iterator walks over all the holes at the front first. On a
 * 50,000-entry set used as a FIFO that was 20 µs per call (measured; 0.3 µs with a kept cursor) —
 * and it ran once per receipt once the set was full (and once per submit on admission's queue of
 * records parked for a window slot). A cursor kept between calls never walks the same holes twice. Map and Set iterators stay valid while the collection changes (the language
 * guarantees it), and entries are only ever appended, so everything behind the cursor is gone.
 */
export class OldestFirst<K> {
  private cursor: Iterator<K> | null = null;

  constructor(private readonly keys: () => Iterator<K>) {}

  /**
   * The oldest key still present, or undefined when the collection is empty. The caller removes
   * it: the cursor has moved past it and will not return it again.
   */
  next(): K | undefined {
    let step = this.cursor?.next();
    if (!step || step.done) {
      // An exhausted iterator stays exhausted even when keys are added later: start a new one.
      this.cursor = this.keys();
      step = this.cursor.next();
    }
    return step.done ? undefined : step.value;
  }
}

/**
 * A set that holds its only member directly and makes a Set from the second one on. Most of the
 * node's per-key sets have one member (a user's sockets on an edge, a subject's routes in the
 * hub), and a Set with its hash table was ≈ 0.2 KB of each idle connection (bench idle --join).
 *
 * Iterate without allocating: `one` when it is set, else every member of `many`.
 */
export class SmallSet<T> {
  /** The member while there is exactly one. */
  one: T | undefined;
  /** The members while there are two or more. */
  many: Set<T> | undefined;

  get size(): number {
    return this.many ? this.many.size : this.one === undefined ? 0 : 1;
  }

  add(member: T): void {
    if (this.many) this.many.add(member);
    else if (this.one === undefined) this.one = member;
    else if (this.one !== member) {
      this.many = new Set([this.one, member]);
      this.one = undefined;
    }
  }

  delete(member: T): void {
    if (this.one === member) this.one = undefined;
    else if (this.many?.delete(member) && this.many.size === 1) {
      this.one = this.many.values().next().value as T;
      this.many = undefined;
    }
  }
}

import { Readable } from 'node:stream';
import type { Doc } from './bsonCodec.js';
import { StandInUsageError } from './serverErrors.js';

/**
 * A driver cursor (FindCursor, AggregationCursor, ListIndexesCursor) over rows computed on the
 * first read, as the driver sends its command only then. Until that read, the chainable setters
 * (`sort`, `skip`, `limit`, `project`, `maxTimeMS`, `batchSize`) change what will be sent, and the
 * command is checked (a missing maxTimeMS, say) and logged with its final shape.
 *
 * Mongoose calls `close(callback)` with a callback the driver ignores since v5; so does this.
 */

export interface CursorShape {
  sort?: unknown;
  skip?: number;
  limit?: number;
  projection?: Doc;
  maxTimeMS?: number;
}

export class StandInCursor implements AsyncIterable<Doc> {
  private rows: Doc[] | null = null;
  private position = 0;
  closed = false;
  readonly killed = false;
  readonly id = undefined;

  constructor(
    private readonly run: (shape: CursorShape) => Doc[],
    private readonly shape: CursorShape = {},
  ) {}

  sort(sort: unknown): this {
    return this.set({ sort });
  }

  skip(skip: number): this {
    return this.set({ skip });
  }

  limit(limit: number): this {
    return this.set({ limit });
  }

  project(projection: Doc): this {
    return this.set({ projection });
  }

  maxTimeMS(maxTimeMS: number): this {
    return this.set({ maxTimeMS });
  }

  batchSize(_size: number): this {
    return this;
  }

  addCursorFlag(_flag: string, _value: boolean): this {
    return this;
  }

  async next(): Promise<Doc | null> {
    const rows = this.fetch();
    if (this.position >= rows.length) {
      this.closed = true;
      return null;
    }
    return rows[this.position++]!;
  }

  async tryNext(): Promise<Doc | null> {
    return this.next();
  }

  async hasNext(): Promise<boolean> {
    return this.position < this.fetch().length;
  }

  async toArray(): Promise<Doc[]> {
    const rest = this.fetch().slice(this.position);
    this.position += rest.length;
    this.closed = true;
    return rest;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  rewind(): void {
    this.rows = null;
    this.position = 0;
    this.closed = false;
  }

  stream(): Readable {
    return Readable.from(this);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Doc> {
    try {
      for (let doc = await this.next(); doc !== null; doc = await this.next()) yield doc;
    } finally {
      await this.close();
    }
  }

  private set(change: Partial<CursorShape>): this {
    if (this.rows) throw new StandInUsageError('stand-in: a cursor cannot be changed after it has been read');
    Object.assign(this.shape, change);
    return this;
  }

  private fetch(): Doc[] {
    this.rows ??= this.run(this.shape);
    return this.rows;
  }
}

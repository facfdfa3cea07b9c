/**
 * The CSV connector: an export read over HTTP or from an upload as a stream (constant memory: bytes →
 * csv-parse → per-field decoding), in pages of `pageSize` rows. A position is the number of rows
 * already committed, plus for uploads the upload id and the byte offset where the next row starts: a
 * resumed run reads an upload from that byte on; an https export is streamed again from its start
 * and the committed rows are skipped (parsed, not applied). A gzip file is inflated as it streams
 * and resumed the way an https export is (a gzip stream cannot be entered at a byte offset).
 */
import { pipeline, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setImmediate } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import chardet from 'chardet';
import { parse, type Options as CsvParseOptions } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { REFUSED_ROW_KEY, type RowError } from '../../domain/erp/mapping.js';
import type { CsvConnector, CsvStream } from './connector-definition.js';
import {
  DEFAULT_ERP_SOURCE_LIMITS,
  ErpConfigurationError,
  ErpHttp,
  ErpUnavailableError,
  recordVersion,
  type ErpSource,
  type ErpSourceContext,
  type ErpSourceLimits,
  type SourcePage,
} from './source.js';

export type CsvEncoding = NonNullable<CsvStream['encoding']>;
const SAMPLE_BYTES = 64 * 1024;
/** Bytes parsed between two turns of the event loop (a few ms of CPU). */
const PARSE_SLICE_BYTES = 64 * 1024;
/** What a dead letter keeps of a field over the size cap. */
const CUT_FIELD_CHARS = 1024;

/**
 * Encoding of a sample: a UTF-8 BOM or valid UTF-8 wins; otherwise chardet's guess among the single
 * byte code pages we accept. Windows-1254 and ISO-8859-9 differ only in 0x80–0x9F (printable in
 * 1254, control codes in 8859-9), so a byte in that range decides for 1254.
 */
export function detectEncoding(sample: Buffer): CsvEncoding {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return 'utf-8';
  // A sample may end inside a multi-byte character: ignore up to 3 trailing bytes.
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, Math.max(0, sample.length - 3)));
    if (!sample.some((b) => b >= 0x80) || chardet.detect(sample) === 'UTF-8') return 'utf-8';
  } catch {
    // not UTF-8
  }
  const guess = (chardet.detect(sample) ?? '').toLowerCase();
  const hasC1 = sample.some((b) => b >= 0x80 && b <= 0x9f);
  if (guess.includes('8859-9') || guess.includes('1254')) return hasC1 ? 'windows-1254' : 'iso-8859-9';
  if (guess.includes('1252') || guess.includes('8859-1')) {
    // Turkish letters in 8859-9 positions (ğ ş ı İ Ş Ğ) would read as ð þ ý Ý Þ Ð in 1252.
    const turkish = sample.filter((b) => [0xf0, 0xfe, 0xfd, 0xdd, 0xde, 0xd0].includes(b)).length;
    return turkish > 0 ? (hasC1 ? 'windows-1254' : 'iso-8859-9') : 'windows-1252';
  }
  return hasC1 ? 'windows-1254' : 'iso-8859-9';
}

/** Delimiter of a header line: the candidate seen most often outside quotes. */
export function detectDelimiter(firstLine: string, quote = '"'): CsvStream['delimiter'] & string {
  const counts = new Map<string, number>([[';', 0], [',', 0], ['\t', 0], ['|', 0]]);
  let quoted = false;
  for (const ch of firstLine) {
    if (ch === quote) quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  const [best] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
  return best as ';';
}

/** Reads the first bytes of a byte stream for detection, then hands on all of it. */
async function peek(source: AsyncIterable<Buffer>, bytes: number): Promise<{ sample: Buffer; stream: AsyncIterable<Buffer> }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = source[Symbol.asyncIterator]();
  while (size < bytes) {
    const { value, done } = await iterator.next();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  const sample = Buffer.concat(chunks);
  async function* rest() {
    yield sample;
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) return;
      yield value;
    }
  }
  return { sample, stream: rest() };
}

/** How a file is written: found from its first bytes (or set on the stream), reused when a run resumes mid-file. */
interface CsvDialect {
  encoding: CsvEncoding;
  delimiter: string;
  /** Trimmed header names; null when the file has no header row (columns are then 1, 2, …). */
  columns: string[] | null;
}

function dialectOf(sample: Buffer, options: Pick<CsvStream, 'delimiter' | 'quote' | 'header' | 'encoding'>): CsvDialect {
  const encoding = options.encoding ?? detectEncoding(sample);
  const text = iconv.decode(sample, encoding).replace(/^\uFEFF/, '');
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const delimiter = options.delimiter ?? detectDelimiter(firstLine, options.quote);
  if (!options.header) return { encoding, delimiter, columns: null };
  let parsed: string[][];
  try {
    parsed = parseSync(text, { delimiter, quote: options.quote, to: 1, relax_quotes: true, skip_empty_lines: true }) as string[][];
  } catch (err) {
    throw new ErpConfigurationError(`CSV header: ${(err as Error).message}`);
  }
  const header = parsed[0] ?? [];
  return { encoding, delimiter, columns: header.map((h) => h.trim()) };
}

/**
 * Per-field decoding of a single-byte code page. csv-parse reads the raw bytes as latin1 (one byte,
 * one character), so its byte counts are offsets into the file; characters 0x80–0xFF are then mapped
 * to the code page's letters. Delimiters, quotes and line ends are ASCII in every accepted encoding.
 */
function fieldDecoder(encoding: CsvEncoding): ((value: string) => string) | null {
  if (encoding === 'utf-8') return null;
  const table = iconv.decode(Buffer.from(Array.from({ length: 256 }, (_, i) => i)), encoding);
  const high = /[\x80-\xff]/;
  const highAll = /[\x80-\xff]/g;
  return (value) => (high.test(value) ? value.replace(highAll, (c) => table[c.charCodeAt(0)]!) : value);
}

/** csv-parse's incremental parser, the one its stream and sync APIs wrap (the `api` of its stream parser). */
interface IncrementalParser {
  parse(chunk: Buffer | undefined, end: boolean, push: (fields: string[]) => void, close: () => void): Error | undefined;
  readonly info: { bytes: number; lines: number };
}

function incrementalParser(options: CsvParseOptions): IncrementalParser {
  const api = (parse(options) as unknown as { api?: IncrementalParser }).api;
  if (typeof api?.parse !== 'function') throw new Error('csv-parse no longer exposes its incremental parser (Parser#api)');
  return api;
}

/** Records parsed from one chunk of bytes, and for each the byte offset in the file just after it (where the next record starts). */
interface RecordBatch {
  records: Record<string, unknown>[];
  ends: number[];
}

/** Size caps of parseFrom: csv-parse stops a row at maxRecordBytes, before buffering more of it. */
type CsvLimits = Pick<ErpSourceLimits, 'maxRecordBytes' | 'maxFieldBytes'>;

/** A CSV row as a record: named by the header (or 1, 2, …); a field over the cap is cut and the row marked refused. */
function recordOf(fields: string[], names: string[] | null, decode: ((value: string) => string) | null, maxFieldBytes: number): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  let refused: RowError[] | undefined;
  for (let i = 0; i < fields.length; i++) {
    const raw = fields[i]!;
    const column = names ? names[i]! : String(i + 1);
    // Latin-1 strings hold one byte per character; UTF-8 at most three per UTF-16 unit.
    const bytes = decode || raw.length * 3 <= maxFieldBytes ? raw.length : Buffer.byteLength(raw);
    if (bytes > maxFieldBytes) {
      (refused ??= []).push({ field: column, message: `source field '${column}' is ${bytes} bytes, over the ${maxFieldBytes}-byte cap (ERP_MAX_FIELD_BYTES)` });
      const cut = raw.slice(0, CUT_FIELD_CHARS);
      record[column] = `${decode ? decode(cut) : cut}… (cut: ${bytes} bytes)`;
    } else record[column] = decode ? decode(raw) : raw;
  }
  if (refused) record[REFUSED_ROW_KEY] = refused;
  return record;
}

/**
 * Parses records from `bytes`, which start at byte `startByte` of the file (0, or the start of a
 * record), one batch per chunk read. csv-parse is driven synchronously chunk by chunk, as arrays:
 * its stream API with `info` and `columns` built two info objects per record, defined each field
 * with defineProperty and took a promise per record, three times the CPU of the parse itself.
 * `info.bytes` as a record is pushed is the offset just after it.
 */
async function* parseFrom(
  bytes: AsyncIterable<Buffer>,
  dialect: CsvDialect,
  quote: string,
  startByte: number,
  limits: CsvLimits,
): AsyncIterable<RecordBatch> {
  const decode = fieldDecoder(dialect.encoding);
  const parser = incrementalParser({
    delimiter: dialect.delimiter,
    quote,
    bom: startByte === 0,
    encoding: decode ? 'latin1' : 'utf8',
    skip_empty_lines: true,
    // Checked as each byte is added to a field: a huge field is refused at the cap, never buffered whole.
    max_record_size: limits.maxRecordBytes,
  });
  const names = dialect.columns ?? null;
  let header = startByte === 0 && names !== null;
  let batch: RecordBatch = { records: [], ends: [] };
  const push = (fields: string[]) => {
    if (header) {
      header = false; // the header row itself, named by dialectOf already
      return;
    }
    if (names && fields.length !== names.length) {
      throw new ErpConfigurationError(`CSV line ${parser.info.lines}: the header has ${names.length} columns, this row ${fields.length}`);
    }
    batch.records.push(recordOf(fields, names, decode, limits.maxFieldBytes));
    batch.ends.push(startByte + parser.info.bytes);
  };
  const close = () => {};
  for await (const chunk of bytes) {
    for (let at = 0; at < chunk.length; at += PARSE_SLICE_BYTES) {
      const err = parser.parse(chunk.subarray(at, at + PARSE_SLICE_BYTES), false, push, close);
      if (err) throw err;
      if (batch.records.length > 0) {
        yield batch;
        batch = { records: [], ends: [] };
      }
      // Parsing is synchronous: let I/O in between slices, so the page before this one, committing
      // meanwhile, gets its round trips answered instead of waiting for a whole chunk (1 MB, ~70 ms).
      await setImmediate();
    }
  }
  const err = parser.parse(undefined, true, push, close);
  if (err) throw err;
  if (batch.records.length > 0) yield batch;
}

/** Parses a CSV byte stream into records (objects by header, or by column number), detecting what is not set. */
export async function* parseCsv(
  bytes: AsyncIterable<Buffer>,
  options: Pick<CsvStream, 'delimiter' | 'quote' | 'header' | 'encoding'>,
  limits: CsvLimits = DEFAULT_ERP_SOURCE_LIMITS,
): AsyncIterable<Record<string, unknown>> {
  const { sample, stream } = await peek(bytes, SAMPLE_BYTES);
  for await (const { records } of parseFrom(stream, dialectOf(sample, options), options.quote, 0, limits)) yield* records;
}

/** Whether a file is gzip: as the stream says, else by its magic bytes (1F 8B), so `.gz` files and `application/gzip` bodies need no setting. */
async function compressionOf(bytes: AsyncIterable<Buffer>, compression: CsvStream['compression']): Promise<{ gzip: boolean; bytes: AsyncIterable<Buffer> }> {
  if (compression !== undefined) return { gzip: compression === 'gzip', bytes };
  const { sample, stream } = await peek(bytes, 2);
  return { gzip: sample[0] === 0x1f && sample[1] === 0x8b, bytes: stream };
}

/**
 * Inflates a gzip byte stream as it is read (node:zlib), refusing it past `maxBytes` inflated: a
 * small file that inflates to gigabytes is stopped at the cap, having held one chunk at a time.
 */
async function* gunzip(bytes: AsyncIterable<Buffer>, maxBytes: number): AsyncIterable<Buffer> {
  const inflate = pipeline(Readable.from(bytes), createGunzip(), () => {});
  let total = 0;
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) {
        throw new ErpConfigurationError(
          `the gzip file inflates past the ${maxBytes}-byte cap (ERP_MAX_DECOMPRESSED_BYTES); the run stops there (pages committed before it stay)`,
        );
      }
      yield chunk;
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // A cut transfer is worth another try; bytes that are not gzip will not be next time either.
    if (code === 'Z_BUF_ERROR') throw new ErpUnavailableError(`the gzip file ends early (${(err as Error).message})`);
    if (typeof code === 'string' && code.startsWith('Z_')) throw new ErpConfigurationError(`the file is not valid gzip: ${(err as Error).message}`);
    throw err;
  } finally {
    inflate.destroy();
  }
}

/** The first bytes of a file, for detection; the reader is closed after them. */
async function headOf(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    size += chunk.length;
    if (size >= SAMPLE_BYTES) break;
  }
  return Buffer.concat(parts);
}

export function createCsvSource(connector: CsvConnector, ctx: ErpSourceContext): ErpSource {
  const http = new ErpHttp(ctx, connector);
  const limits = ctx.limits ?? DEFAULT_ERP_SOURCE_LIMITS;

  /**
   * Where to read from `position`: an upload resumes at the stored byte offset (dialect detected from
   * the file's first bytes, read apart); an https export, or a position from before offsets were
   * stored, is read from the start and the committed rows are skipped.
   */
  async function open(
    entity: ErpEntity,
    stream: CsvStream,
    position: string | null,
  ): Promise<{ batches: AsyncIterable<RecordBatch>; uploadId?: string; rows: number; skip: number; startByte: number; gzip?: boolean }> {
    if (stream.upload) {
      if (!ctx.uploads) throw new ErpConfigurationError('uploaded files are not available here');
      const uploads = ctx.uploads;
      const [pinned, rowsText, byteText] = position ? position.split(':') : [];
      const uploadId = pinned ?? (await uploads.latest(entity));
      if (!uploadId) throw new ErpConfigurationError(`no file has been uploaded for ${entity}`);
      const rows = Number(rowsText ?? 0);
      // A gzip upload cannot be entered mid-stream: its positions keep byte 0 and rows are skipped by count.
      if (byteText !== undefined && Number(byteText) > 0) {
        const dialect = dialectOf(await headOf(uploads.read(uploadId)), stream);
        const bytes = uploads.read(uploadId, Number(byteText));
        const startByte = Number(byteText);
        return { batches: parseFrom(bytes, dialect, stream.quote, startByte, limits), uploadId, rows, skip: 0, startByte };
      }
      const { gzip, bytes: raw } = await compressionOf(uploads.read(uploadId), stream.compression);
      const { sample, stream: bytes } = await peek(gzip ? gunzip(raw, limits.maxDecompressedBytes) : raw, SAMPLE_BYTES);
      return { batches: parseFrom(bytes, dialectOf(sample, stream), stream.quote, 0, limits), uploadId, rows: 0, skip: rows, startByte: 0, gzip };
    }
    // Content-Encoding: gzip is inflated by the HTTP client (and counted inflated by the egress cap);
    // a gzip file (.gz, application/gzip) arrives as bytes and is inflated here.
    const res = (await http.get(http.resolve(stream.url!), true)) as Response;
    if (!res.body) throw new ErpConfigurationError('the CSV export is empty');
    const { gzip, bytes: raw } = await compressionOf(Readable.fromWeb(res.body as WebReadableStream), stream.compression);
    const { sample, stream: bytes } = await peek(gzip ? gunzip(raw, limits.maxDecompressedBytes) : raw, SAMPLE_BYTES);
    return { batches: parseFrom(bytes, dialectOf(sample, stream), stream.quote, 0, limits), rows: 0, skip: position ? Number(position) : 0, startByte: 0, gzip };
  }

  return {
    kind: 'csv',
    version: (entity, record) => recordVersion(connector.streams[entity]?.incremental, record),
    async *pages(entity: ErpEntity, position): AsyncIterable<SourcePage> {
      const stream = connector.streams[entity];
      if (!stream) throw new ErpConfigurationError(`the connector has no stream for ${entity}`);
      const { batches, uploadId, rows, skip, startByte, gzip } = await open(entity, stream, position);
      // An uploaded file is pinned by id in the position, so a resumed run reads the same file, from
      // the byte after the last committed row (a gzip upload: from its start, skipping that many rows).
      const positionAt = (count: number, end: number) => (uploadId ? `${uploadId}:${count}:${gzip ? 0 : end}` : String(count));
      let index = rows;
      let page: Record<string, unknown>[] = [];
      // Where the page's first row starts in the file: a page also ends at maxPageBytes.
      let pageStart = startByte;
      try {
        for await (const { records, ends } of batches) {
          for (let i = 0; i < records.length; i++) {
            index += 1;
            if (index <= skip) {
              pageStart = ends[i]!;
              continue;
            }
            page.push(records[i]!);
            if (page.length === stream.pageSize || ends[i]! - pageStart >= limits.maxPageBytes) {
              // `next` is provisional: whether more rows follow is only known when the next one is read.
              yield { records: page, next: positionAt(index, ends[i]!) };
              page = [];
              pageStart = ends[i]!;
            }
          }
        }
      } catch (err) {
        if (err instanceof Error && 'code' in err && String(err.code).startsWith('CSV_')) {
          const line = (err as { lines?: number }).lines ?? '?';
          if (err.code === 'CSV_MAX_RECORD_SIZE') {
            throw new ErpConfigurationError(
              `CSV line ${line}: a row is larger than the ${limits.maxRecordBytes}-byte cap (ERP_MAX_RECORD_BYTES); the run stops there (pages committed before it stay)`,
            );
          }
          throw new ErpConfigurationError(`CSV line ${line}: ${err.message}`);
        }
        throw err;
      }
      yield { records: page, next: null };
    },
  };
}

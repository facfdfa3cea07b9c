/**
 * The CSV connector: an export read over HTTP as a stream (constant memory: bytes → decoder →
 * csv-parse), in pages of `pageSize` rows. A position is the number of rows already committed; a
 * resumed run streams the file again and skips them.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import chardet from 'chardet';
import { parse } from 'csv-parse';
import iconv from 'iconv-lite';
import type { ErpEntity } from '../../domain/erp/entities.js';
import type { CsvConnector, CsvStream } from './definition.js';
import { ErpConfigurationError, ErpHttp, recordVersion, type ErpSource, type ErpSourceContext, type SourcePage } from './source.js';

export type CsvEncoding = NonNullable<CsvStream['encoding']>;
const SAMPLE_BYTES = 64 * 1024;

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

/** Reads the first bytes of a stream for detection, then hands on a stream of all of it. */
async function peek(source: Readable, bytes: number): Promise<{ sample: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = source[Symbol.asyncIterator]();
  while (size < bytes) {
    const { value, done } = (await iterator.next()) as IteratorResult<Buffer>;
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  const sample = Buffer.concat(chunks);
  async function* rest() {
    yield sample;
    for (;;) {
      const { value, done } = (await iterator.next()) as IteratorResult<Buffer>;
      if (done) return;
      yield value;
    }
  }
  return { sample, stream: Readable.from(rest(), { objectMode: false }) };
}

/** Parses a CSV byte stream into records (objects by header, or by column number), detecting what is not set. */
export async function* parseCsv(bytes: Readable, options: Pick<CsvStream, 'delimiter' | 'quote' | 'header' | 'encoding'>): AsyncIterable<Record<string, string>> {
  const { sample, stream } = await peek(bytes, SAMPLE_BYTES);
  const encoding = options.encoding ?? detectEncoding(sample);
  const text = iconv.decode(sample, encoding);
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const delimiter = options.delimiter ?? detectDelimiter(firstLine, options.quote);
  const parser = stream.pipe(iconv.decodeStream(encoding)).pipe(
    parse({
      delimiter,
      quote: options.quote,
      bom: true,
      columns: options.header ? (header: string[]) => header.map((h) => h.trim()) : false,
      skip_empty_lines: true,
    }),
  );
  for await (const row of parser as AsyncIterable<Record<string, string> | string[]>) {
    yield Array.isArray(row) ? Object.fromEntries(row.map((v, i) => [String(i + 1), v])) : row;
  }
}

export function createCsvSource(connector: CsvConnector, ctx: ErpSourceContext): ErpSource {
  const http = new ErpHttp(ctx, connector);

  /** The bytes to parse from `position` (rows already committed, after the upload id for uploads). */
  async function open(entity: ErpEntity, stream: CsvStream, position: string | null): Promise<{ bytes: Readable; uploadId?: string; skip: number }> {
    if (stream.upload) {
      if (!ctx.uploads) throw new ErpConfigurationError('uploaded files are not available here');
      const [pinned, rows] = position ? position.split(':') : [];
      const uploadId = pinned ?? (await ctx.uploads.latest(entity));
      if (!uploadId) throw new ErpConfigurationError(`no file has been uploaded for ${entity}`);
      return { bytes: Readable.from(ctx.uploads.read(uploadId), { objectMode: false }), uploadId, skip: Number(rows ?? 0) };
    }
    const res = (await http.get(http.resolve(stream.url!), true)) as Response;
    if (!res.body) throw new ErpConfigurationError('the CSV export is empty');
    return { bytes: Readable.fromWeb(res.body as WebReadableStream), skip: position ? Number(position) : 0 };
  }

  return {
    kind: 'csv',
    version: (entity, record) => recordVersion(connector.streams[entity]?.incremental, record),
    async *pages(entity: ErpEntity, position): AsyncIterable<SourcePage> {
      const stream = connector.streams[entity];
      if (!stream) throw new ErpConfigurationError(`the connector has no stream for ${entity}`);
      const { bytes, uploadId, skip } = await open(entity, stream, position);
      // An uploaded file is pinned by id in the position, so a resumed run reads the same file.
      const positionAt = (rows: number) => (uploadId ? `${uploadId}:${rows}` : String(rows));
      let index = 0;
      let page: Record<string, string>[] = [];
      try {
        for await (const record of parseCsv(bytes, stream)) {
          index += 1;
          if (index <= skip) continue;
          page.push(record);
          if (page.length === stream.pageSize) {
            // `next` is provisional: whether more rows follow is only known when the next one is read.
            yield { records: page, next: positionAt(index) };
            page = [];
          }
        }
      } catch (err) {
        if (err instanceof Error && 'code' in err && String(err.code).startsWith('CSV_')) {
          throw new ErpConfigurationError(`CSV line ${(err as { lines?: number }).lines ?? '?'}: ${err.message}`);
        }
        throw err;
      }
      yield { records: page, next: null };
    },
  };
}

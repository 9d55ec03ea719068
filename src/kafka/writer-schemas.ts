/**
 * The writer schemas of the records, by id: fetched from the registry once, judged (schema-trust.ts)
 * and the verdict — accepted or refused — cached, so a known id costs no lookup and no promise.
 *
 * Whatever keeps us from *reading* a schema (no answer within the deadline, 5xx, a body that is not
 * a schema, a 404 while the registry does not serve our own schema either) throws
 * RegistryUnavailableError and caches nothing: the record waits, it is not the record's fault.
 */
import { ConfigError } from '../config-error.js';
import { PoisonRecordError, RegistryUnavailableError } from './errors.js';
import type { RegistryHttp } from './registry-http.js';
import { judgeAny, judgeOutbound, registeredSchema, VerdictCache, type Verdict } from './schema-trust.js';

/** `outbound`: judged against SmsOutbound (and the subject switch); `any`: any bounded Avro schema (tools). */
export type Purpose = 'outbound' | 'any';

export interface WriterSchemaOptions {
  /** The SmsOutbound reader schema (schemas/sms-outbound.avsc). */
  readerSchema: string;
  /** `<outbound topic>-value` (first), and the urgent lane's `<topic>-value` when there is one. */
  outboundSubjects: readonly string[];
  /** SCHEMA_SUBJECT_STRICT: only ids registered under one of `outboundSubjects`; default false. */
  subjectStrict: boolean;
}

export class WriterSchemas {
  private readonly verdicts: Record<Purpose, VerdictCache> = { outbound: new VerdictCache(), any: new VerdictCache() };
  /** One registry lookup per id at a time, however many records of it arrive together. */
  private readonly judging = new Map<string, Promise<Verdict>>();
  /** Our own registered SmsOutbound id: what a 404 is checked against; its verdict is never evicted. */
  private ownId: number | undefined;
  private ownVerdict: Verdict | undefined;

  constructor(
    private readonly http: RegistryHttp,
    private readonly opts: WriterSchemaOptions,
  ) {}

  /** The bulk topic's subject, under which our own id is registered. */
  private get ownSubject(): string {
    return this.opts.outboundSubjects[0] ?? '';
  }

  /** Our own outbound schema is the reader itself: its records never wait for a lookup. */
  trustOwn(id: number): void {
    this.ownId = id;
    this.ownVerdict = judgeOutbound(id, { schemaType: 'AVRO', schema: this.opts.readerSchema, references: [] }, this.opts.readerSchema);
  }

  /**
   * SCHEMA_SUBJECT_STRICT needs `GET /schemas/ids/{id}/versions`; a registry without it would make
   * every new id an outage that never ends. Checked once at start with our own id: throws
   * ConfigError naming the switch when the registry does not list our subject for it.
   */
  async requireSubjectListing(): Promise<void> {
    if (!this.opts.subjectStrict || this.ownId === undefined) return;
    const answer = await this.http.call(`/schemas/ids/${this.ownId}/versions`);
    const listed = Array.isArray(answer.json) ? answer.json.map((v) => (v as { subject?: unknown })?.subject) : [];
    if (answer.status === 200 && listed.includes(this.ownSubject)) return;
    if (answer.status >= 500) throw new RegistryUnavailableError(`schema registry answered HTTP ${answer.status} to GET /schemas/ids/${this.ownId}/versions`);
    throw new ConfigError(
      'SCHEMA_SUBJECT_STRICT',
      `SCHEMA_SUBJECT_STRICT: the registry does not list subjects per schema id (GET /schemas/ids/${this.ownId}/versions answered HTTP ${answer.status}` +
        `${answer.status === 200 ? ` without ${this.ownSubject}` : ''}); set it to false or use a registry with that endpoint`,
    );
  }

  /** The cached verdict, synchronously (undefined: not judged yet). */
  known(id: number, purpose: Purpose): Verdict | undefined {
    if (id === this.ownId && purpose === 'outbound') return this.ownVerdict;
    return this.verdicts[purpose].get(id);
  }

  /** The verdict, looked up once per id; throws RegistryUnavailableError (or UNKNOWN_SCHEMA_ID poison). */
  verdict(id: number, purpose: Purpose): Promise<Verdict> {
    const cached = this.known(id, purpose);
    if (cached) return Promise.resolve(cached);
    const key = `${purpose}:${id}`;
    let pending = this.judging.get(key);
    if (pending === undefined) {
      pending = this.lookUp(id, purpose).finally(() => this.judging.delete(key));
      this.judging.set(key, pending);
    }
    return pending;
  }

  private async lookUp(id: number, purpose: Purpose): Promise<Verdict> {
    const answer = await this.http.call(`/schemas/ids/${id}`);
    if (answer.status === 404) throw await this.notFound(id);
    if (answer.status !== 200) throw new RegistryUnavailableError(`schema registry answered HTTP ${answer.status} for schema id ${id}`);
    const registered = registeredSchema(id, answer.json);
    // The subject is checked after the type (a JSON schema is FOREIGN_SCHEMA_TYPE in both modes) and
    // before any parsing: with the switch on, another team's Avro schema is never even parsed.
    const strict = purpose === 'outbound' && this.opts.subjectStrict && registered.schemaType === 'AVRO';
    const foreign = strict ? await this.foreignSubject(id) : undefined;
    const verdict = foreign ?? (purpose === 'outbound' ? judgeOutbound(id, registered, this.opts.readerSchema) : judgeAny(id, registered));
    this.verdicts[purpose].set(id, verdict);
    return verdict;
  }

  /**
   * SCHEMA_SUBJECT_STRICT: the subjects and versions under which the id is registered
   * (`GET /schemas/ids/{id}/versions`: Confluent ≥ 5.5, Apicurio 3's ccompat v7, Karapace); a
   * refusal when ours is not among them. (Apicurio gives identical content one id under every
   * subject: an id is ours when it is listed under our subject, whoever registered it first.)
   */
  private async foreignSubject(id: number): Promise<Verdict | undefined> {
    const answer = await this.http.call(`/schemas/ids/${id}/versions`);
    const listed = answer.json;
    if (answer.status !== 200 || !Array.isArray(listed) || !listed.every((v) => typeof (v as { subject?: unknown })?.subject === 'string')) {
      throw new RegistryUnavailableError(`schema registry answered HTTP ${answer.status} without a list of subjects for schema id ${id}`);
    }
    const subjects = listed.map((v) => (v as { subject: string }).subject);
    if (subjects.some((subject) => this.opts.outboundSubjects.includes(subject))) return undefined;
    const named = subjects.slice(0, 3).join(', ') || 'no subject';
    const refusal = new PoisonRecordError(
      'FOREIGN_SUBJECT',
      `schema id ${id} is registered under ${named}, not ${this.opts.outboundSubjects.join(' or ')} (SCHEMA_SUBJECT_STRICT)`,
    );
    return { accepted: false, refusal };
  }

  /**
   * A 404 is only proof of an unknown id if the registry is otherwise healthy (a wrong base URL, a
   * proxy or a registry half-up also answer 404): check that our own schema id still resolves —
   * each time, never from a cached answer: a registry that starts answering 404 to everything must
   * not have its first 404s taken as proof. Unknown ids are not cached either (registered a moment later).
   */
  private async notFound(id: number): Promise<Error> {
    if (await this.servesOurSchema()) return new PoisonRecordError('UNKNOWN_SCHEMA_ID', `schema id ${id} is not in the registry`);
    return new RegistryUnavailableError(`registry answered 404 for schema id ${id} and does not serve our own schema either`);
  }

  private async servesOurSchema(): Promise<boolean> {
    if (this.ownId === undefined) return false;
    try {
      const answer = await this.http.call(`/schemas/ids/${this.ownId}`);
      return answer.status === 200 && registeredSchema(this.ownId, answer.json).schemaType === 'AVRO';
    } catch {
      return false;
    }
  }
}

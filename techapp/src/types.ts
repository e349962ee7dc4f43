// What the API sends (GET /sync/changes items, docs/api.md) — only what the app reads.

export type FieldType =
  | "checkbox"
  | "text"
  | "number"
  | "date"
  | "time"
  | "validation"
  | "barcode"
  | "signature";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ReportField {
  key: string;
  label: string;
  type: FieldType;
  mandatory: boolean;
  value: Json;
  comment: string | null;
  reserves: string[];
}

export interface ReportFamily {
  key: string;
  name: string;
  has_mandatory: boolean;
  fields: ReportField[];
}

export interface ImageRef {
  sha256?: string;
  /** A photo or signature taken on this phone, shown until the server has it. */
  data_url?: string;
}

export interface Signature {
  role: string;
  signer_name: string;
  image: ImageRef | null;
  validated: boolean;
}

export interface Reserve {
  id: string;
  field_key: string;
  comment: string;
  status: "unresolved" | "resolved" | "compliant";
}

export interface ReportAttachment {
  id: string;
  kind: "photo" | "barcode";
  description: string;
  barcode: string | null;
  image: ImageRef | null;
}

export interface Report {
  template: { id: string; name: string; required_signatures?: string[] };
  status: string;
  locked: boolean;
  families: ReportFamily[];
  reserves: Reserve[];
  attachments: ReportAttachment[];
  signatures: Record<string, Signature | null>;
  blockers: { code: string; message: string; ref: string }[];
}

export interface Evidence {
  kind: ClockEvent;
  at: string;
  event_id: string | null;
}

export interface Session {
  id: string;
  technician_id: string;
  state: string;
  evidence: Evidence[];
}

export interface PendingClockEvent {
  technician_id: string;
  event: ClockEvent;
  at: string;
  event_id: string | null;
}

export type ClockEvent = "clock_in" | "pause" | "resume" | "clock_out";

export interface CrewMember {
  technician_id: string;
  name: string;
  role: "job_manager" | "auxiliary";
}

export interface Job {
  id: string;
  number: string;
  status: string;
  description: string;
  client: { id: string; name: string };
  property: {
    address: Record<string, string> | string[];
    location: { lat: number; lon: number } | null;
    navigation_url?: string;
  } | null;
  site_contact: { name: string; phone: string; mobile: string; email: string };
  scheduled_start: string | null;
  scheduled_end: string | null;
  crew: CrewMember[];
  sessions: Session[];
  pending_clock_events: PendingClockEvent[];
  report: Report | null;
  notes: { id: string; text: string; created_at: string; author_name: string }[];
  parts?: JobParts;
}

/** A price-book item as the Add Item screen lists it (GET /parts/catalog). */
export interface CatalogItem {
  id: string;
  family: string;
  name: string;
  kind: "part" | "service" | "labour";
  unit_price: string;
  tax_rate: string;
  serialized: boolean;
  sku: string | null;
}

export interface Catalog {
  families: string[];
  items: CatalogItem[];
}

export interface PartLine {
  id: string;
  item_id: string;
  family: string;
  name: string;
  kind: string;
  quantity: string;
  unit_price: string;
  net: string;
  serials: string[];
}

export type Condition = "ok" | "needs_repair" | "obsolete";

export interface TakeBackLine {
  id: string;
  serial: string;
  item_id: string | null;
  condition: Condition;
  found_at_client?: boolean;
}

export interface JobParts {
  items: PartLine[];
  take_backs: TakeBackLine[];
  totals?: { net: string };
}

export interface Me {
  user_id: string;
  name: string;
  email: string | null;
  role: string;
  technician_id: string | null;
  devices: { id: string; label: string }[];
  time_zone: string;
  /** What the company settings allow a technician (absent from an older server: none). */
  may?: { decline: boolean; reschedule: boolean; duplicate: boolean };
}

export interface Problem {
  status: number;
  title: string;
  detail?: string;
  blocking_items?: { code: string; message: string; ref: string }[];
  errors?: { pointer: string; detail: string }[];
}

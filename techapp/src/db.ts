// The phone's IndexedDB: jobs as the server last sent them, the outbox of writes,
// the fixes not yet acknowledged, and a few settings (token, me, sync cursor).

export const DB_NAME = "crewtrack-techapp";
const DB_VERSION = 1;
export const STORES = ["kv", "jobs", "outbox", "fixes", "history"] as const;
export type StoreName = (typeof STORES)[number];

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class Db {
  private constructor(private readonly idb: IDBDatabase) {}

  static async open(factory: IDBFactory = indexedDB, name: string = DB_NAME): Promise<Db> {
    const req = factory.open(name, DB_VERSION);
    req.onupgradeneeded = () => {
      const idb = req.result;
      idb.createObjectStore("kv");
      idb.createObjectStore("jobs", { keyPath: "id" });
      idb
        .createObjectStore("outbox", { keyPath: "id" })
        .createIndex("seq", "seq", { unique: true });
      idb.createObjectStore("fixes", { keyPath: "t" });
      idb.createObjectStore("history", { keyPath: "job_id" });
    };
    return new Db(await request(req));
  }

  close(): void {
    this.idb.close();
  }

  async get<T>(store: StoreName, key: IDBValidKey): Promise<T | undefined> {
    const tx = this.idb.transaction(store, "readonly");
    return (await request(tx.objectStore(store).get(key))) as T | undefined;
  }

  async all<T>(store: StoreName, index?: string): Promise<T[]> {
    const os = this.idb.transaction(store, "readonly").objectStore(store);
    return (await request(index ? os.index(index).getAll() : os.getAll())) as T[];
  }

  /** Several writes in one transaction: all of them or none. */
  async write(
    store: StoreName,
    puts: unknown[],
    deletes: IDBValidKey[] = [],
    keys?: IDBValidKey[],
  ): Promise<void> {
    const tx = this.idb.transaction(store, "readwrite");
    const os = tx.objectStore(store);
    for (const key of deletes) os.delete(key);
    puts.forEach((value, i) => {
      if (keys) os.put(value, keys[i]);
      else os.put(value);
    });
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  /** Add ``value`` with ``seq`` one past the highest kept, in one transaction, so
   * two writes recorded at the same moment never get the same place in line. */
  async append<T extends { seq: number }>(store: StoreName, value: Omit<T, "seq">): Promise<T> {
    const tx = this.idb.transaction(store, "readwrite");
    const os = tx.objectStore(store);
    const stored = await new Promise<T>((resolve, reject) => {
      const last = os.index("seq").openCursor(null, "prev");
      last.onerror = () => reject(last.error);
      last.onsuccess = () => {
        const seq = last.result ? (last.result.value as T).seq + 1 : 1;
        const row = { ...value, seq } as T;
        os.put(row);
        resolve(row);
      };
    });
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return stored;
  }

  put(store: StoreName, value: unknown, key?: IDBValidKey): Promise<void> {
    return this.write(store, [value], [], key === undefined ? undefined : [key]);
  }

  remove(store: StoreName, keys: IDBValidKey[]): Promise<void> {
    return this.write(store, [], keys);
  }

  async clear(store: StoreName): Promise<void> {
    const tx = this.idb.transaction(store, "readwrite");
    tx.objectStore(store).clear();
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
}

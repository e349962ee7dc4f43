// Times as the technician reads them: in the company's time zone.

export function dayKey(iso: string, zone: string): string {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(new Date(iso));
}

export function when(iso: string | null, zone: string): string {
  if (!iso) return "not planned";
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));
}

export function clock(iso: string, zone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));
}

/** A wall-clock time typed in the company's zone ("2026-01-05T14:30") as an ISO instant. */
export function zonedToIso(local: string, zone: string): string {
  const wall = Date.parse(`${local}:00Z`);
  const offset = (instant: number) => {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      })
        .formatToParts(new Date(instant))
        .map((p) => [p.type, p.value]),
    );
    const asUtc = Date.UTC(
      Number(parts.year),
      Number(parts.month) - 1,
      Number(parts.day),
      Number(parts.hour),
      Number(parts.minute),
      Number(parts.second),
    );
    return asUtc - instant;
  };
  let instant = wall - offset(wall);
  instant = wall - offset(instant); // across a DST change the second guess is right
  return new Date(instant).toISOString();
}

/** An ISO instant as the company zone's wall clock, for a datetime-local input. */
export function isoToZoned(iso: string, zone: string): string {
  const f = new Intl.DateTimeFormat("sv-SE", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
  return f.format(new Date(iso)).replace(" ", "T");
}

export function addressLines(address: Record<string, string> | string[] | undefined): string[] {
  if (!address) return [];
  if (Array.isArray(address)) return address.filter(Boolean);
  return ["line1", "line2", "postcode", "city", "country"]
    .map((k) => address[k] ?? "")
    .filter(Boolean);
}

/** A navigation link the phone offers to its maps app: geo: where there is a
 * position (Android), else the server's navigation URL (a maps search). */
export function navigationLink(property: {
  location: { lat: number; lon: number } | null;
  navigation_url?: string;
  address: Record<string, string> | string[];
}): string {
  if (property.location) {
    const { lat, lon } = property.location;
    const label = encodeURIComponent(addressLines(property.address).join(", "));
    return `geo:${lat},${lon}?q=${lat},${lon}(${label})`;
  }
  return (
    property.navigation_url ??
    `https://www.openstreetmap.org/search?query=${encodeURIComponent(addressLines(property.address).join(", "))}`
  );
}

// A barcode read with the camera: the browser's BarcodeDetector where the phone has
// one (Android Chrome), fed the photo the camera takes; typing is always there too.

/** The part of the browser's BarcodeDetector the app uses. */
export interface Detector {
  detect(source: ImageBitmapSource): Promise<{ rawValue: string }[]>;
}

type DetectorClass = new () => Detector;

/** The browser's detector, or null where there is none (then the code is typed). */
export function barcodeDetector(scope: object = globalThis): Detector | null {
  const found = (scope as { BarcodeDetector?: DetectorClass }).BarcodeDetector;
  if (typeof found !== "function") return null;
  try {
    return new found();
  } catch {
    return null; // present but unusable (no formats on this device)
  }
}

/** The first code the detector reads in ``source`` (trimmed), or null. */
export async function readCode(
  detector: Detector,
  source: ImageBitmapSource,
): Promise<string | null> {
  try {
    const codes = await detector.detect(source);
    const first = codes.map((c) => c.rawValue.trim()).find(Boolean);
    return first ?? null;
  } catch {
    return null;
  }
}

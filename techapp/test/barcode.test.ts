import { describe, expect, it } from "vitest";
import { barcodeDetector, type Detector, readCode } from "../src/barcode";

describe("a barcode read with the camera", () => {
  it("uses the browser's BarcodeDetector where there is one, and none elsewhere", () => {
    class Stub implements Detector {
      async detect() {
        return [{ rawValue: "4006381333931" }];
      }
    }
    expect(barcodeDetector({ BarcodeDetector: Stub })).toBeInstanceOf(Stub);
    expect(barcodeDetector({})).toBeNull();
    class Broken {
      constructor() {
        throw new TypeError("no formats");
      }
    }
    expect(barcodeDetector({ BarcodeDetector: Broken })).toBeNull();
  });

  it("takes the first code in the photo, and nothing when the photo has none or is unreadable", async () => {
    const photo = new Blob(["x"]);
    const reads = (codes: string[] | Error): Detector => ({
      detect: async () => {
        if (codes instanceof Error) throw codes;
        return codes.map((rawValue) => ({ rawValue }));
      },
    });
    expect(await readCode(reads([" 4006381333931 ", "other"]), photo)).toBe("4006381333931");
    expect(await readCode(reads([]), photo)).toBeNull();
    expect(await readCode(reads(new DOMException("bad image")), photo)).toBeNull();
  });
});

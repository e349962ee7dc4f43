// Small form pieces the screens share.

/** A labelled text-like input that reports each keystroke. */
export function Labelled({
  label,
  id,
  value,
  onInput,
  type = "text",
  inputMode,
}: {
  label: string;
  id: string;
  value: string;
  onInput: (value: string) => void;
  type?: "text" | "datetime-local";
  inputMode?: "decimal" | "text";
}) {
  const attrs = {
    id,
    inputMode,
    value,
    onInput: (e: { currentTarget: HTMLInputElement }) => onInput(e.currentTarget.value),
  };
  return (
    <label htmlFor={id}>
      {label}
      {type === "datetime-local" ? (
        <input type="datetime-local" {...attrs} />
      ) : (
        <input type="text" {...attrs} />
      )}
    </label>
  );
}

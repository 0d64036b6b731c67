// Form fields bound to a dotted recipe path: label, control, the schema's hint, and the
// service's problems for that path right under it.
import { useEffect, useId, useState, type ReactNode } from "react";
import type { FieldProblem } from "@/api/types";
import type { FieldSpec } from "./schemaFields";

interface FrameProps {
  path: string;
  label: string;
  hint?: string | undefined;
  problems: readonly FieldProblem[];
  children: (ids: { input: string; describedBy: string | undefined; invalid: boolean }) => ReactNode;
  /** A switch sits before its label, on one line. */
  toggle?: boolean;
}

export function FieldFrame({ path, label, hint, problems, children, toggle = false }: FrameProps) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = problems.length ? `${id}-error` : undefined;
  const describedBy = [errorId, hintId].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${toggle ? " toggle-field" : ""}${problems.length ? " invalid" : ""}`} data-path={path}>
      <label htmlFor={`${id}-input`}>{label}</label>
      {children({ input: `${id}-input`, describedBy, invalid: problems.length > 0 })}
      {problems.length > 0 && (
        <p id={errorId} className="field-error" role="alert">
          {problems.map((p) => p.message).join("; ")}
        </p>
      )}
      {hint && (
        <p id={hintId} className="hint">
          {hint}
        </p>
      )}
    </div>
  );
}

interface SliderProps {
  path: string;
  label: string;
  spec: FieldSpec;
  value: number | null;
  min: number;
  max: number;
  step: number;
  problems: readonly FieldProblem[];
  unit?: string;
  onChange: (value: number) => void;
}

/** A range slider with a number box beside it (for exact values and the keyboard). */
export function SliderField({ path, label, spec, value, min, max, step, problems, unit, onChange }: SliderProps) {
  const shown = value ?? min;
  const [typed, setTyped] = useTyped(value);
  return (
    <FieldFrame path={path} label={label} hint={spec.description} problems={problems}>
      {({ input, describedBy, invalid }) => (
        <div className="slider">
          <input
            type="range"
            aria-label={`${label} slider`}
            min={min}
            max={max}
            step={step}
            value={Math.min(max, Math.max(min, shown))}
            onChange={(e) => onChange(Number(e.target.value))}
            aria-describedby={describedBy}
          />
          <input
            id={input}
            type="number"
            step="any"
            value={typed}
            aria-invalid={invalid}
            aria-describedby={describedBy}
            onChange={(e) => {
              setTyped(e.target.value);
              if (e.target.value !== "" && Number.isFinite(Number(e.target.value))) onChange(Number(e.target.value));
            }}
          />
          {unit && <span className="unit">{unit}</span>}
        </div>
      )}
    </FieldFrame>
  );
}

/** The number box's text: it may be empty or half-typed while the recipe keeps its last number. */
function useTyped(value: number | null): [string, (text: string) => void] {
  const [typed, setTyped] = useState(value === null ? "" : String(value));
  useEffect(() => {
    setTyped((current) => (current !== "" && Number(current) === value ? current : value === null ? "" : String(value)));
  }, [value]);
  return [typed, setTyped];
}

interface NumberProps {
  path: string;
  label: string;
  spec: FieldSpec;
  value: number | null;
  problems: readonly FieldProblem[];
  onChange: (value: number | null) => void;
}

export function NumberField({ path, label, spec, value, problems, onChange }: NumberProps) {
  return (
    <FieldFrame path={path} label={label} hint={spec.description} problems={problems}>
      {({ input, describedBy, invalid }) => (
        <input
          id={input}
          type="number"
          step="any"
          value={value ?? ""}
          placeholder={spec.nullable ? "default" : undefined}
          aria-invalid={invalid}
          aria-describedby={describedBy}
          onChange={(e) => onChange(e.target.value === "" ? null : Number(e.target.value))}
        />
      )}
    </FieldFrame>
  );
}

interface ToggleProps {
  path: string;
  label: string;
  hint?: string;
  checked: boolean;
  problems: readonly FieldProblem[];
  onChange: (checked: boolean) => void;
}

export function ToggleField({ path, label, hint, checked, problems, onChange }: ToggleProps) {
  return (
    <FieldFrame path={path} label={label} hint={hint} problems={problems} toggle>
      {({ input, describedBy, invalid }) => (
        <input
          id={input}
          type="checkbox"
          role="switch"
          className="toggle"
          checked={checked}
          aria-invalid={invalid}
          aria-describedby={describedBy}
          onChange={(e) => onChange(e.target.checked)}
        />
      )}
    </FieldFrame>
  );
}

interface SelectProps {
  path: string;
  label: string;
  hint?: string | undefined;
  value: string;
  choices: readonly { value: string; label: string }[];
  problems: readonly FieldProblem[];
  onChange: (value: string) => void;
}

export function SelectField({ path, label, hint, value, choices, problems, onChange }: SelectProps) {
  return (
    <FieldFrame path={path} label={label} hint={hint} problems={problems}>
      {({ input, describedBy, invalid }) => (
        <select id={input} value={value} aria-invalid={invalid} aria-describedby={describedBy} onChange={(e) => onChange(e.target.value)}>
          {choices.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      )}
    </FieldFrame>
  );
}

interface TextProps {
  path: string;
  label: string;
  hint?: string | undefined;
  value: string;
  placeholder?: string;
  problems: readonly FieldProblem[];
  onChange: (value: string) => void;
}

export function TextField({ path, label, hint, value, placeholder, problems, onChange }: TextProps) {
  return (
    <FieldFrame path={path} label={label} hint={hint} problems={problems}>
      {({ input, describedBy, invalid }) => (
        <input
          id={input}
          type="text"
          value={value}
          placeholder={placeholder}
          aria-invalid={invalid}
          aria-describedby={describedBy}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
    </FieldFrame>
  );
}

export function choicesOf(values: readonly string[] | undefined): { value: string; label: string }[] {
  return (values ?? []).map((v) => ({ value: v, label: v }));
}

// The shapes of tenant names and subjects, wherever they come from (a tokens file, a JWT
// claim, a certificate mapping): they are stored on every task and compared exactly.
import { z } from "zod";
import { hasUnstorableText } from "../domain/json-values.js";

export const limits = { tenantLength: 200, subjectLength: 1000 } as const;

const storable = (value: string) => !hasUnstorableText(value);

export const tenantSchema = z
  .string()
  .min(1, "tenant must not be empty")
  .max(limits.tenantLength, `tenant must be at most ${limits.tenantLength} characters`)
  .refine(storable, "tenant must not contain a NUL character or an unpaired surrogate");

export const subjectSchema = z
  .string()
  .min(1, "subject must not be empty")
  .max(limits.subjectLength, `subject must be at most ${limits.subjectLength} characters`)
  .refine(storable, "subject must not contain a NUL character or an unpaired surrogate");

import * as path from "node:path";
import { repoRoot } from "../src/paths";

export const ROOT = repoRoot();
export const fixture = (...p: string[]) => path.join(ROOT, "test", "fixtures", ...p);

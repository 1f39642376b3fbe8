// ixlab: everything that is not `pulumi` itself.
import { EXIT_BAD_INPUT, EXIT_OK, UsageError } from "./exit";

type Verb = { help: string; run(argv: string[]): Promise<number> };

const verbs: Record<string, () => Verb> = {
  validate: () => require("./validate"),
  toolchain: () => require("./toolchain"),
  pulumi: () => require("./pulumi"),
  ssh: () => require("./ssh"),
  report: () => require("./report"),
  bench: () => require("./bench"),
};

const usage = `Usage: ixlab <verb> [options]

Verbs:
  validate   check a lab description (ixlab validate --stack sim)
  toolchain  build or locate the Pulumi CLI, language host and plugins (ixlab toolchain --check)
  ssh        a shell or command on a lab host (ixlab ssh --stack sim dut -- uname -r)
  bench      run the lab's benchmark matrix through the stack (ixlab bench --stack sim --duration 10)
  report     tables and plots from saved bench results (ixlab report sim/20250131T120000Z --reference seed)
  pulumi     run the pulumi CLI with ixlab's toolchain, backend and secrets (ixlab pulumi preview --stack sim)

Run ixlab <verb> --help for a verb's options and an example.`;

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === "--help" || verb === "-h" || verb === "help") {
    console.log(usage);
    return verb ? EXIT_OK : EXIT_BAD_INPUT;
  }
  const load = verbs[verb];
  if (!load) {
    console.error(`ixlab: unknown verb "${verb}"\n\n${usage}`);
    return EXIT_BAD_INPUT;
  }
  try {
    return await load().run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message);
      return EXIT_BAD_INPUT;
    }
    throw e;
  }
}

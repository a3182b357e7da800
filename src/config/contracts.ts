/**
 * The digi.me contracts one deployment serves, each with its id and private
 * key, and which API key may use which: read from the environment with every
 * problem named per contract (config/parse.ts collects them).
 *
 * - `DIGIME_CONTRACT_ID` + `DIGIME_PRIVATE_KEY`: one contract, as before.
 * - `DIGIME_CONTRACTS`: JSON `{ "<contractId>": "<name of the secret holding its key>" }`
 *   for more; `DIGIME_DEFAULT_CONTRACT` names the default (else `DIGIME_CONTRACT_ID`,
 *   else the only one).
 * - `API_KEYS`: `key` (every contract) or `key=contractA|contractB` (those only).
 */
import { decodePem } from "../digime/pem.ts";
import type { Env } from "../env.ts";

/** One contract: its id and private key (PKCS#1 or PKCS#8 PEM). */
export interface ContractConfig {
  id: string;
  privateKey: string;
  /** Where its key came from: `DIGIME_PRIVATE_KEY`, or the secret `DIGIME_CONTRACTS` names. */
  keyBinding: string;
}

/** An API key and the contracts it may use (`undefined`: all). */
export interface ApiKeyScope {
  key: string;
  contracts?: string[];
}

/**
 * What a contract id may hold: no `:` (it is a part of the user objects'
 * names, `user:v1:<contract>:<user>`), nothing a URL or a header would mangle.
 */
export const CONTRACT_ID = /^[A-Za-z0-9._-]{1,128}$/;

function keyProblem(pem: string): string | undefined {
  try {
    const { label } = decodePem(pem);
    if (label !== "RSA PRIVATE KEY" && label !== "PRIVATE KEY") return "is not a private key PEM";
  } catch (error) {
    return `is malformed (${(error as Error).message})`;
  }
  return undefined;
}

/** The contracts the environment configures, and the default; problems pushed by contract. */
/**
 * The contract a start must name (`contractId` in a ready start body): the
 * one given, unless it is the default, which a start need not name.
 */
export function namedContract(contractId: string | undefined, defaultContractId: string): string | undefined {
  return contractId !== undefined && contractId !== defaultContractId ? contractId : undefined;
}

export function readContracts(env: Env, problems: string[]): { contracts: ContractConfig[]; defaultContractId: string } {
  const contracts: ContractConfig[] = [];
  const add = (id: string, privateKey: string, keyBinding: string, where: string) => {
    if (!CONTRACT_ID.test(id)) {
      problems.push(`${where}: contract id "${id.slice(0, 64)}" may hold only letters, digits and . _ - (no ":")`);
      return;
    }
    if (contracts.some((c) => c.id === id)) {
      problems.push(`${where}: contract "${id}" is configured twice`);
      return;
    }
    contracts.push({ id, privateKey, keyBinding });
  };

  const singleId = env.DIGIME_CONTRACT_ID?.trim() ?? "";
  const singleKey = env.DIGIME_PRIVATE_KEY?.trim() ?? "";
  const listed = env.DIGIME_CONTRACTS?.trim() ?? "";
  if (singleId || !listed) {
    if (!singleId) problems.push("DIGIME_CONTRACT_ID is missing");
    if (!singleKey) problems.push("DIGIME_PRIVATE_KEY is missing");
    const bad = singleKey ? keyProblem(singleKey) : undefined;
    if (bad) problems.push(`DIGIME_PRIVATE_KEY ${bad}`);
    if (singleId && singleKey && !bad) add(singleId, singleKey, "DIGIME_PRIVATE_KEY", "DIGIME_CONTRACT_ID");
  }

  if (listed) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(listed);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      problems.push('DIGIME_CONTRACTS must be a JSON object of contract id → the name of the secret holding its private key, e.g. {"health":"DIGIME_PRIVATE_KEY_HEALTH"}');
    } else {
      for (const [id, binding] of Object.entries(parsed)) {
        const where = `DIGIME_CONTRACTS: contract "${id.slice(0, 64)}"`;
        if (typeof binding !== "string" || !/^[A-Z][A-Z0-9_]{0,127}$/.test(binding)) {
          problems.push(`${where}: its key must be named by a secret's binding name (capitals, digits and _)`);
          continue;
        }
        const pem = (env as unknown as Record<string, unknown>)[binding];
        if (typeof pem !== "string" || pem.trim() === "") {
          problems.push(`${where}: its key ${binding} is missing`);
          continue;
        }
        const bad = keyProblem(pem.trim());
        if (bad) {
          problems.push(`${where}: its key ${binding} ${bad}`);
          continue;
        }
        add(id, pem.trim(), binding, "DIGIME_CONTRACTS");
      }
    }
  }

  const named = env.DIGIME_DEFAULT_CONTRACT?.trim() || singleId || (contracts.length === 1 ? contracts[0]!.id : "");
  if (!named && contracts.length > 1) problems.push("DIGIME_DEFAULT_CONTRACT is missing: name the contract a request without contractId uses");
  else if (named && contracts.length && !contracts.some((c) => c.id === named)) problems.push(`DIGIME_DEFAULT_CONTRACT: no contract "${named.slice(0, 64)}" is configured`);
  return { contracts, defaultContractId: named };
}

/** Splits `API_KEYS` entries into keys and their contracts (`key=contractA|contractB`); unknown contracts are problems. */
export function readApiKeyScopes(entries: string[], contracts: readonly ContractConfig[], problems: string[]): ApiKeyScope[] {
  return entries.map((entry, index) => {
    const at = entry.lastIndexOf("=");
    // A key of its own may end in "=" (base64 padding): only a suffix naming contracts is a scope.
    const suffix = at > 0 ? entry.slice(at + 1) : "";
    if (!suffix || !/^[A-Za-z0-9._|-]+$/.test(suffix)) return { key: entry };
    const names = suffix.split("|").filter(Boolean);
    for (const name of names) {
      if (!contracts.some((c) => c.id === name)) problems.push(`API_KEYS: key ${index + 1} is limited to contract "${name.slice(0, 64)}", which is not configured`);
    }
    return { key: entry.slice(0, at), contracts: names };
  });
}

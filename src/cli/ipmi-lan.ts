// `anvil ipmi lan print`: the LAN configuration parameters (IPMI v2.0 §23.2, Table 23-4)
// in ipmitool's layout (lib/ipmi_lanp.c).
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import { authTypes, cipherSuites, ipSource, ipv4, mac, setInProgress, vlanId, LanParam } from '../protocols/ipmi/commands/lan.ts';

/** Letters of the "Cipher Suite Priv Max" line, by privilege nibble (ipmitool's legend). */
const PRIV_LETTERS: Readonly<Record<number, string>> = { 0: 'X', 1: 'c', 2: 'u', 3: 'o', 4: 'a', 5: 'O' };
/** ipmitool prints 15 entries of parameter 24 (its 16th nibble is reserved). */
const PRIV_ENTRIES = 15;

export interface LanConfig {
  readonly [name: string]: unknown;
}

/** The report being written: the parameter reader, and the lines and --json values so far. */
interface LanReport {
  readonly get: (param: number) => Promise<Uint8Array | undefined>;
  readonly line: (label: string, value: string) => void;
  readonly lines: string[];
  readonly values: Record<string, unknown>;
}

/** The parameters in ipmitool's order (each section reads its own, in turn). */
export async function lanPrint(bmc: Bmc, channel?: number): Promise<{ lines: string[]; values: Record<string, unknown> }> {
  const lines: string[] = [];
  const report: LanReport = {
    get: (p) => bmc.lanParamOptional(p, channel),
    line: (label, value) => void lines.push(`${label.padEnd(24)}: ${value}`),
    lines,
    values: {},
  };
  for (const section of [authSection, addressSection, vlanSection, cipherSection, passwordSection]) await section(report);
  return { lines, values: report.values };
}

/** Set in Progress and the authentication types (parameters 0–2). */
async function authSection({ get, line, lines, values }: LanReport): Promise<void> {
  const sip = await get(LanParam.setInProgress);
  if (sip) line('Set in Progress', (values.setInProgress = setInProgress(sip)) as string);
  const support = await get(LanParam.authTypeSupport);
  if (support)
    line(
      'Auth Type Support',
      authTypes(support[0] ?? 0)
        .map((a) => a + ' ')
        .join(''),
    );
  const enables = await get(LanParam.authTypeEnables);
  if (enables && enables.length >= 5) {
    const names = ['Callback', 'User', 'Operator', 'Admin', 'OEM'];
    names.forEach((n, i) =>
      lines.push(
        `${(i === 0 ? 'Auth Type Enable' : '').padEnd(24)}: ${n.padEnd(9)}: ${authTypes(enables[i] ?? 0)
          .map((a) => a + ' ')
          .join('')}`,
      ),
    );
    values.authTypeEnables = Object.fromEntries(names.map((n, i) => [n.toLowerCase(), authTypes(enables[i] ?? 0)]));
  }
}

/** Addresses, the IP header, ARP and the gateways (parameters 3–16). */
async function addressSection({ get, line, values }: LanReport): Promise<void> {
  const source = await get(LanParam.ipAddressSource);
  if (source) line('IP Address Source', (values.ipAddressSource = ipSource(source)) as string);
  const ip = await get(LanParam.ipAddress);
  if (ip) line('IP Address', (values.ipAddress = ipv4(ip)) as string);
  const mask = await get(LanParam.subnetMask);
  if (mask) line('Subnet Mask', (values.subnetMask = ipv4(mask)) as string);
  const macAddress = await get(LanParam.macAddress);
  if (macAddress) line('MAC Address', (values.macAddress = mac(macAddress)) as string);
  const community = await get(LanParam.communityString);
  if (community) line('SNMP Community String', (values.communityString = new TextDecoder().decode(community).replace(/\0.*$/s, '')) as string);
  const header = await get(LanParam.ipv4Header);
  if (header && header.length >= 3) {
    const h2 = (n: number) => '0x' + n.toString(16).padStart(2, '0');
    // The fields masked in place, as ipmitool prints them (Table 23-4 parameter 7).
    line('IP Header', `TTL=${h2(header[0]!)} Flags=${h2(header[1]! & 0xe0)} Precedence=${h2(header[2]! & 0xe0)} TOS=${h2(header[2]! & 0x1e)}`);
  }
  const arp = await get(LanParam.bmcArpControl);
  if (arp) line('BMC ARP Control', `ARP Responses ${(arp[0] ?? 0) & 0x02 ? 'En' : 'Dis'}abled, Gratuitous ARP ${(arp[0] ?? 0) & 0x01 ? 'En' : 'Dis'}abled`);
  const interval = await get(LanParam.gratuitousArpInterval);
  // Parameter 11 counts 500 ms units.
  if (interval) line('Gratituous ARP Intrvl', `${((interval[0] ?? 0) / 2).toFixed(1)} seconds`);
  for (const [label, p, key, f] of [
    ['Default Gateway IP', LanParam.defaultGatewayIp, 'defaultGatewayIp', ipv4],
    ['Default Gateway MAC', LanParam.defaultGatewayMac, 'defaultGatewayMac', mac],
    ['Backup Gateway IP', LanParam.backupGatewayIp, 'backupGatewayIp', ipv4],
    ['Backup Gateway MAC', LanParam.backupGatewayMac, 'backupGatewayMac', mac],
  ] as const) {
    const v = await get(p);
    if (v) line(label, (values[key] = f(v)) as string);
  }
}

/** 802.1q VLAN (parameters 20, 21). */
async function vlanSection({ get, line, values }: LanReport): Promise<void> {
  const vlan = await get(LanParam.vlanId);
  if (vlan) {
    const id = vlanId(vlan);
    values.vlanId = id ?? null;
    line('802.1q VLAN ID', id === undefined ? 'Disabled' : String(id));
  }
  const priority = await get(LanParam.vlanPriority);
  if (priority) line('802.1q VLAN Priority', String((values.vlanPriority = (priority[0] ?? 0) & 0x07)));
}

/** RMCP+ cipher suites and their maximum privileges (parameters 22–24). */
async function cipherSection({ get, line, values }: LanReport): Promise<void> {
  // Parameter 22 says how many entries of parameter 23 are real (§23.2); the rest is padding.
  const count = (await get(LanParam.cipherSuiteSupport))?.[0];
  const suites = await get(LanParam.cipherSuites);
  if (suites) line('RMCP+ Cipher Suites', (values.cipherSuites = cipherSuites(suites).slice(0, count ?? undefined)).toString());
  const privs = await get(LanParam.cipherSuitePrivileges);
  if (privs && privs.length >= 9) {
    const nibbles: number[] = [];
    for (const b of privs.subarray(1, 9)) nibbles.push(b & 0x0f, b >> 4);
    line(
      'Cipher Suite Priv Max',
      nibbles
        .slice(0, PRIV_ENTRIES)
        .map((n) => PRIV_LETTERS[n] ?? '?')
        .join(''),
    );
    for (const legend of ['X=Cipher Suite Unused', 'c=CALLBACK', 'u=USER', 'o=OPERATOR', 'a=ADMIN', 'O=OEM']) line('', `    ${legend}`);
  }
}

/** The bad password threshold (parameter 25). */
async function passwordSection({ get, line }: LanReport): Promise<void> {
  const bad = await get(LanParam.badPasswordThreshold);
  line('Bad Password Threshold', bad && bad.length >= 6 ? String(bad[1]) : 'Not Available');
}

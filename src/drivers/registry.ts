// The hardware types one anvil process offers, built once so their shared clients (one IPMI
// socket, one AMT connection and one Redfish session per controller) serve every machine.
import { AmtHardware, type AmtHardwareOptions } from './amt.ts';
import { FakeHardware } from './fake.ts';
import { IpmiHardware, type IpmiHardwareOptions } from './ipmi.ts';
import { ManualHardware } from './manual.ts';
import { RedfishHardware, type RedfishHardwareOptions } from './redfish.ts';
import { AnvilError, listWords } from '../common/errors.ts';
import { DRIVER_ERROR_CODES } from './errors.ts';
import type { HardwareType } from './types.ts';

export interface DriverOptions {
  readonly ipmi?: IpmiHardwareOptions;
  readonly amt?: AmtHardwareOptions;
  readonly redfish?: RedfishHardwareOptions;
}

export class HardwareTypes {
  readonly ipmi: IpmiHardware;
  readonly amt: AmtHardware;
  readonly redfish: RedfishHardware;
  readonly manual = new ManualHardware();
  readonly fake = new FakeHardware();
  readonly #all: ReadonlyMap<string, HardwareType>;

  constructor(options: DriverOptions = {}) {
    this.ipmi = new IpmiHardware(options.ipmi);
    this.amt = new AmtHardware(options.amt);
    this.redfish = new RedfishHardware(options.redfish);
    this.#all = new Map<string, HardwareType>([this.ipmi, this.amt, this.redfish, this.manual, this.fake].map((h) => [h.name, h as HardwareType]));
  }

  get names(): string[] {
    return [...this.#all.keys()];
  }

  get(name: string): HardwareType {
    const type = this.#all.get(name);
    if (!type) throw new AnvilError(DRIVER_ERROR_CODES.unknownDriver, 'invalid', `unknown driver '${name}'; anvil has ${listWords(this.names)}`);
    return type;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#all.values()].map((h) => h.close?.()));
  }
}

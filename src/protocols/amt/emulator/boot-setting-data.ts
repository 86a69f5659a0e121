// The emulator's AMT_BootSettingData: the properties an AMT 8 reports (Intel AMT SDK class
// reference, as Intel's go-wsman-messages models them), and the checks a WS-Transfer Put of it
// must pass before it replaces the instance (DSP0226 §7.5). Pure: parsed XML in, a result out.
import { AMT_CLASSES, AMT_NAMES } from '../constants.ts';
import { children, elementNames, text } from '../xml.ts';
import type { XmlNode } from '../xml.ts';

type PropertyType = { readonly kind: 'boolean' } | { readonly kind: 'uint'; readonly max: number } | { readonly kind: 'string' };

interface PropertySpec {
  readonly type: PropertyType;
  /** Intel's BootSettingDataRequest marks it "Required": a Put without it is refused. */
  readonly required: boolean;
}

const BOOLEAN: PropertySpec = { type: { kind: 'boolean' }, required: true };

/** AMT 8's properties, in the (alphabetical) order AMT sends them. */
export const BOOT_SETTING_SCHEMA: Readonly<Record<string, PropertySpec>> = {
  BIOSPause: BOOLEAN,
  BIOSSetup: BOOLEAN,
  BootMediaIndex: { type: { kind: 'uint', max: 0xffff }, required: true },
  ConfigurationDataReset: BOOLEAN,
  ElementName: { type: { kind: 'string' }, required: true },
  /** 0 system default, 1 quiet, 2 verbose, 3 screen blank. */
  FirmwareVerbosity: { type: { kind: 'uint', max: 3 }, required: true },
  ForcedProgressEvents: BOOLEAN,
  /** 0 floppy, 1 CD. */
  IDERBootDevice: { type: { kind: 'uint', max: 1 }, required: true },
  InstanceID: { type: { kind: 'string' }, required: true },
  LockKeyboard: BOOLEAN,
  LockPowerButton: BOOLEAN,
  LockResetButton: BOOLEAN,
  LockSleepButton: BOOLEAN,
  OwningEntity: { type: { kind: 'string' }, required: false },
  ReflashBIOS: BOOLEAN,
  UseIDER: BOOLEAN,
  UseSOL: BOOLEAN,
  UseSafeMode: BOOLEAN,
  UserPasswordBypass: BOOLEAN,
};

/** The instance of a freshly provisioned AMT: every option off. */
export function defaultBootSettings(): ReadonlyMap<string, string> {
  return new Map(
    Object.entries(BOOT_SETTING_SCHEMA).map(([name, spec]): [string, string] => {
      if (name === 'InstanceID') return [name, AMT_NAMES.bootSettingData];
      if (name === 'ElementName') return [name, 'Intel(r) AMT Boot Configuration Settings'];
      if (name === 'OwningEntity') return [name, 'Intel(r) AMT'];
      return [name, spec.type.kind === 'boolean' ? 'false' : '0'];
    }),
  );
}

/**
 * Options the SDK allows only while no boot source is set ("This property can be set to true
 * only when a boot source isn't set (using CIM_BootConfigSetting.ChangeBootOrder method)").
 */
const SOURCELESS_OPTIONS = ['BIOSSetup', 'BIOSPause', 'ReflashBIOS'] as const;

export type BootSettingPut = { readonly ok: true; readonly settings: ReadonlyMap<string, string> } | { readonly ok: false; readonly detail: string };

const refuse = (detail: string): BootSettingPut => ({ ok: false, detail });

/** xs:boolean's lexical forms, stored the way AMT writes them back. */
const BOOLEAN_FORMS: Readonly<Record<string, string>> = { true: 'true', false: 'false', 1: 'true', 0: 'false' };

/**
 * Checks the Body of a Put against the schema and the current instance: one AMT_BootSettingData
 * element, every required property once, no unknown one, values of the right type, the same
 * InstanceID, and no sourceless option while `sourceSet`.
 */
export function readBootSettingPut(body: XmlNode | undefined, current: ReadonlyMap<string, string>, sourceSet: boolean): BootSettingPut {
  const names = elementNames(body);
  const [element] = children(body, AMT_CLASSES.bootSettingData);
  if (names.length !== 1 || element === undefined) {
    return refuse(`the body of a Put must be one ${AMT_CLASSES.bootSettingData} element, not ${names.join(', ') || 'nothing'}`);
  }
  const settings = new Map<string, string>();
  for (const name of elementNames(element)) {
    const spec = BOOT_SETTING_SCHEMA[name];
    if (spec === undefined) return refuse(`${AMT_CLASSES.bootSettingData} has no property ${name}`);
    const values = children(element, name);
    const value = values.length === 1 && (typeof values[0] === 'string' || elementNames(values[0]).length === 0) ? text(values[0]) : undefined;
    if (value === undefined) return refuse(`${name} must appear once, as text`);
    const checked = checkValue(name, spec.type, value);
    if (typeof checked !== 'string') return checked;
    settings.set(name, checked);
  }
  const missing = Object.entries(BOOT_SETTING_SCHEMA)
    .filter(([name, spec]) => spec.required && !settings.has(name))
    .map(([name]) => name);
  if (missing.length > 0) return refuse(`missing ${missing.join(', ')}: a Put carries the whole instance`);
  if (settings.get('InstanceID') !== current.get('InstanceID')) {
    return refuse(`InstanceID '${settings.get('InstanceID') ?? ''}' is not this instance's ('${current.get('InstanceID') ?? ''}')`);
  }
  const sourceless = SOURCELESS_OPTIONS.find((name) => settings.get(name) === 'true');
  if (sourceSet && sourceless !== undefined) {
    return refuse(`${sourceless} can be true only while no boot source is set: call ChangeBootOrder without a Source first`);
  }
  // Properties a Put may leave out keep their value, in the schema's order.
  return {
    ok: true,
    settings: new Map(
      Object.keys(BOOT_SETTING_SCHEMA).flatMap((name): Array<[string, string]> => {
        const value = settings.get(name) ?? current.get(name);
        return value === undefined ? [] : [[name, value]];
      }),
    ),
  };
}

function checkValue(name: string, type: PropertyType, raw: string): string | BootSettingPut {
  const value = raw.trim();
  switch (type.kind) {
    case 'boolean': {
      const form = BOOLEAN_FORMS[value];
      return form ?? refuse(`${name} must be true or false, not '${value}'`);
    }
    case 'uint':
      return /^\d{1,5}$/.test(value) && Number(value) <= type.max
        ? String(Number(value))
        : refuse(`${name} must be an integer from 0 to ${type.max}, not '${value}'`);
    case 'string':
      return raw;
  }
}

// Names for sensor units and sensor types, as IPMI v2.0 spells them and ipmitool prints them
// (§43.17 Table 43-15 "Sensor Unit Type Codes", §42.2 Table 42-3 "Sensor Type Codes").

export const UNITS: readonly string[] = [
  'unspecified', 'degrees C', 'degrees F', 'degrees K', 'Volts', 'Amps', 'Watts', 'Joules', 'Coulombs', 'VA',
  'Nits', 'lumen', 'lux', 'Candela', 'kPa', 'PSI', 'Newton', 'CFM', 'RPM', 'Hz',
  'microsecond', 'millisecond', 'second', 'minute', 'hour', 'day', 'week', 'mil', 'inches', 'feet',
  'cu in', 'cu feet', 'mm', 'cm', 'm', 'cu cm', 'cu m', 'liters', 'fluid ounce', 'radians',
  'steradians', 'revolutions', 'cycles', 'gravities', 'ounce', 'pound', 'ft-lb', 'oz-in', 'gauss', 'gilberts',
  'henry', 'millihenry', 'farad', 'microfarad', 'ohms', 'siemens', 'mole', 'becquerel', 'PPM', 'reserved',
  'Decibels', 'DbA', 'DbC', 'gray', 'sievert', 'color temp deg K', 'bit', 'kilobit', 'megabit', 'gigabit',
  'byte', 'kilobyte', 'megabyte', 'gigabyte', 'word', 'dword', 'qword', 'line', 'hit', 'miss',
  'retry', 'reset', 'overrun / overflow', 'underrun', 'collision', 'packets', 'messages', 'characters', 'error', 'correctable error',
  'uncorrectable error', 'fatal error', 'grams',
];

export function unitName(code: number): string {
  return UNITS[code] ?? `unit 0x${code.toString(16)}`;
}

export const SENSOR_TYPES: readonly string[] = [
  'reserved', 'Temperature', 'Voltage', 'Current', 'Fan', 'Physical Security', 'Platform Security', 'Processor',
  'Power Supply', 'Power Unit', 'Cooling Device', 'Other', 'Memory', 'Drive Slot / Bay', 'POST Memory Resize',
  'System Firmwares', 'Event Logging Disabled', 'Watchdog1', 'System Event', 'Critical Interrupt', 'Button',
  'Module / Board', 'Microcontroller', 'Add-in Card', 'Chassis', 'Chip Set', 'Other FRU', 'Cable / Interconnect',
  'Terminator', 'System Boot Initiated', 'Boot Error', 'OS Boot', 'OS Critical Stop', 'Slot / Connector',
  'System ACPI Power State', 'Watchdog2', 'Platform Alert', 'Entity Presence', 'Monitor ASIC', 'LAN',
  'Management Subsys Health', 'Battery', 'Session Audit', 'Version Change', 'FRU State',
];

export function sensorTypeName(code: number): string {
  if (code >= 0xc0) return 'OEM';
  return SENSOR_TYPES[code] ?? `type 0x${code.toString(16)}`;
}

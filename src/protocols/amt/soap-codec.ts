// The legacy AMT SOAP ("EOI") services amttool speaks, AMT 1.0-8.x: SOAP 1.1 envelopes, one
// element per method in the service's namespace, results as child elements whose first is the
// PT_STATUS (SOAP 1.1 §4, §7; Intel AMT SDK RemoteControl/SecurityAdministration/NetworkAdministration WSDLs).
// Pure: no I/O. Both sides live here: the client and the emulator speak the same envelopes.
import { NS, SOAP_NAMESPACES } from './constants.ts';
import type { SoapService } from './constants.ts';
import { AMT_ERROR_CODES, AmtError } from './errors.ts';
import { child, elementNames, escapeXml, parseXml, soapBody, text } from './xml.ts';

export const SOAP_MAX_MESSAGE_CHARS = 1 << 20;
export const SOAP_CONTENT_TYPE = 'text/xml; charset=utf-8';

export type SoapFields = ReadonlyArray<readonly [name: string, value: string | number]>;

/** SOAPAction as SOAP::Lite sends it: `"<namespace>#<method>"` (SOAP 1.1 §6.1.1). */
export function soapAction(service: SoapService, method: string): string {
  return `"${SOAP_NAMESPACES[service]}#${method}"`;
}

function envelope(service: SoapService, inner: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${NS.soap11}" xmlns:m="${SOAP_NAMESPACES[service]}">` +
    `<SOAP-ENV:Body>${inner}</SOAP-ENV:Body></SOAP-ENV:Envelope>`
  );
}

function fieldsXml(fields: SoapFields): string {
  return fields.map(([name, value]) => `<m:${name}>${escapeXml(String(value))}</m:${name}>`).join('');
}

/** A request calling `method` of `service`; parameters in the WSDL's order. */
export function buildSoapRequest(service: SoapService, method: string, params: SoapFields = []): string {
  return envelope(service, `<m:${method}>${fieldsXml(params)}</m:${method}>`);
}

/** A `<method>Response` with its outputs; the first output is the status, as SOAP::Lite's `result` expects. */
export function buildSoapResponse(service: SoapService, method: string, outputs: SoapFields): string {
  return envelope(service, `<m:${method}Response>${fieldsXml(outputs)}</m:${method}Response>`);
}

/** A SOAP 1.1 Fault (§4.4): faultcode Client for bad requests, Server for our own failures. */
export function buildSoapFault(service: SoapService, code: 'Client' | 'Server', message: string): string {
  return envelope(service, `<SOAP-ENV:Fault><faultcode>SOAP-ENV:${code}</faultcode><faultstring>${escapeXml(message)}</faultstring></SOAP-ENV:Fault>`);
}

export interface SoapCall {
  readonly method: string;
  readonly params: Readonly<Record<string, string>>;
}

export type SoapAnswer =
  | { readonly kind: 'ok'; readonly method: string; readonly fields: Readonly<Record<string, string>>; readonly order: readonly string[] }
  | { readonly kind: 'fault'; readonly faultcode: string; readonly faultstring: string };

/** The method and text parameters of a request. Throws XmlError for malformed XML or a missing Body/method. */
export function parseSoapRequest(xml: string, maxChars = SOAP_MAX_MESSAGE_CHARS): SoapCall {
  const body = soapBody(parseXml(xml, maxChars));
  const method = elementNames(body)[0];
  if (method === undefined) throw new SoapShapeError('SOAP request has no Envelope/Body/method element');
  const call = child(body, method);
  const params: Record<string, string> = {};
  for (const name of elementNames(call)) params[name] = text(child(call, name)) ?? '';
  return { method, params };
}

export class SoapShapeError extends AmtError {
  override readonly name = 'SoapShapeError';
  declare readonly code: typeof AMT_ERROR_CODES.soapShape;
  constructor(message: string, options?: { cause?: unknown }) {
    super(AMT_ERROR_CODES.soapShape, message, options);
  }
}

/** A response's outputs (text, in document order) or its fault. Throws XmlError / SoapShapeError when it is neither. */
export function parseSoapResponse(xml: string, maxChars = SOAP_MAX_MESSAGE_CHARS): SoapAnswer {
  const body = soapBody(parseXml(xml, maxChars));
  const fault = child(body, 'Fault');
  if (fault !== undefined) {
    return { kind: 'fault', faultcode: text(child(fault, 'faultcode')) ?? '', faultstring: text(child(fault, 'faultstring')) ?? '' };
  }
  const method = elementNames(body)[0];
  if (method === undefined) throw new SoapShapeError('SOAP response has no Envelope/Body element');
  const response = child(body, method);
  const order = elementNames(response);
  const fields: Record<string, string> = {};
  for (const name of order) fields[name] = text(child(response, name)) ?? '';
  return { kind: 'ok', method, fields, order };
}

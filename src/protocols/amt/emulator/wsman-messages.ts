// The server side of WS-Management as the emulator speaks it: reading requests and building
// responses and faults (DMTF DSP0226 1.0 §5-§9, §11 Identify, §14 faults). Pure: no I/O.
import { ADDRESS_ANONYMOUS, NS } from '../constants.ts';
import { AMT_ERROR_CODES, AmtError } from '../errors.ts';
import { child, children, escapeXml, parseXml, soapBody, soapHeader, text } from '../xml.ts';
import type { XmlNode } from '../xml.ts';

export interface WsmanIncoming {
  readonly identify: boolean;
  readonly action: string | undefined;
  readonly resourceUri: string | undefined;
  readonly messageId: string | undefined;
  readonly selectors: Readonly<Record<string, string>>;
  readonly body: XmlNode | undefined;
}

export function parseWsmanRequest(xml: string, maxChars: number): WsmanIncoming {
  const doc = parseXml(xml, maxChars);
  if (doc['Envelope'] === undefined) throw new WsmanShapeError('not a SOAP envelope');
  const header = soapHeader(doc);
  const body = soapBody(doc);
  const selectors: Record<string, string> = {};
  for (const s of children(child(header, 'SelectorSet'), 'Selector')) {
    const name = typeof s === 'string' ? undefined : s['@_Name'];
    if (typeof name === 'string') selectors[name] = text(s) ?? '';
  }
  return {
    identify: child(body, 'Identify') !== undefined,
    action: text(child(header, 'Action')),
    resourceUri: text(child(header, 'ResourceURI')),
    messageId: text(child(header, 'MessageID')),
    selectors,
    body,
  };
}

export class WsmanShapeError extends AmtError {
  override readonly name = 'WsmanShapeError';
  declare readonly code: typeof AMT_ERROR_CODES.wsmanShape;
  constructor(message: string, options?: { cause?: unknown }) {
    super(AMT_ERROR_CODES.wsmanShape, message, options);
  }
}

/** Selectors of an EPR-valued parameter, e.g. ChangeBootOrder_INPUT/Source (DSP0226 §5.1). */
export function referenceSelectors(epr: XmlNode | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of children(child(child(epr, 'ReferenceParameters'), 'SelectorSet'), 'Selector')) {
    const name = typeof s === 'string' ? undefined : s['@_Name'];
    if (typeof name === 'string') out[name] = text(s) ?? '';
  }
  return out;
}

export function responseEnvelope(input: { action: string; messageId: string; relatesTo: string | undefined; body: string }): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="${NS.soap12}" xmlns:a="${NS.addressing}" xmlns:w="${NS.wsman}" xmlns:n="${NS.enumeration}" xmlns:t="${NS.transfer}">` +
    '<s:Header>' +
    `<a:To>${ADDRESS_ANONYMOUS}</a:To>` +
    (input.relatesTo !== undefined ? `<a:RelatesTo>${escapeXml(input.relatesTo)}</a:RelatesTo>` : '') +
    `<a:Action s:mustUnderstand="true">${escapeXml(input.action)}</a:Action>` +
    `<a:MessageID>${escapeXml(input.messageId)}</a:MessageID>` +
    `</s:Header><s:Body>${input.body}</s:Body></s:Envelope>`
  );
}

/** Optimized EnumerateResponse carrying every item and EndOfSequence (DSP0226 §8.2.3). */
export function enumerateResponseBody(items: readonly string[], context: string, optimized: boolean): string {
  if (!optimized) return `<n:EnumerateResponse><n:EnumerationContext>${escapeXml(context)}</n:EnumerationContext></n:EnumerateResponse>`;
  return (
    `<n:EnumerateResponse><n:EnumerationContext>${escapeXml(context)}</n:EnumerationContext>` +
    `<w:Items>${items.join('')}</w:Items><w:EndOfSequence/></n:EnumerateResponse>`
  );
}

export function pullResponseBody(items: readonly string[]): string {
  return `<n:PullResponse><n:Items>${items.join('')}</n:Items><n:EndOfSequence/></n:PullResponse>`;
}

export function invokeResponseBody(resourceUri: string, method: string, returnValue: number): string {
  return `<g:${method}_OUTPUT xmlns:g="${escapeXml(resourceUri)}"><g:ReturnValue>${returnValue}</g:ReturnValue></g:${method}_OUTPUT>`;
}

export function identifyResponse(input: { vendor: string; version: string }): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="${NS.soap12}" xmlns:i="${NS.identity}"><s:Header/><s:Body><i:IdentifyResponse>` +
    `<i:ProtocolVersion>${NS.wsman}</i:ProtocolVersion>` +
    `<i:ProductVendor>${escapeXml(input.vendor)}</i:ProductVendor><i:ProductVersion>${escapeXml(input.version)}</i:ProductVersion>` +
    '</i:IdentifyResponse></s:Body></s:Envelope>'
  );
}

/** Fault subcodes the emulator uses (DSP0226 §14.6 Table 10; t: is WS-Transfer's namespace). */
export const WSMAN_FAULTS = {
  actionNotSupported: { code: 'Sender', subcode: 'a:ActionNotSupported', reason: 'The action is not supported by the service.' },
  destinationUnreachable: {
    code: 'Sender',
    subcode: 'a:DestinationUnreachable',
    reason: 'No route can be determined to reach the destination role defined by the WS-Addressing To.',
  },
  invalidSelectors: { code: 'Sender', subcode: 'w:InvalidSelectors', reason: 'The Selectors for the resource were not valid.' },
  invalidMessageHeader: {
    code: 'Sender',
    subcode: 'a:InvalidMessageInformationHeader',
    reason: 'A message information header is not valid and the message cannot be processed.',
  },
  schemaValidationError: { code: 'Sender', subcode: 'w:SchemaValidationError', reason: 'The supplied SOAP violates the corresponding XML schema definition.' },
  /** WS-Transfer's fault for a Put whose representation is wrong (DSP0226 §7.5; wiseman InvalidRepresentationFault). */
  invalidRepresentation: { code: 'Sender', subcode: 't:InvalidRepresentation', reason: 'The XML content was invalid.' },
  invalidEnumerationContext: { code: 'Receiver', subcode: 'n:InvalidEnumerationContext', reason: 'The supplied enumeration context is invalid.' },
  internalError: { code: 'Receiver', subcode: 'w:InternalError', reason: 'The service cannot comply with the request due to internal processing errors.' },
} as const;
export type WsmanFault = (typeof WSMAN_FAULTS)[keyof typeof WSMAN_FAULTS];

export function faultEnvelope(input: { fault: WsmanFault; messageId: string; relatesTo: string | undefined; detail?: string }): string {
  const { fault } = input;
  return responseEnvelope({
    action: `${NS.addressing}/fault`,
    messageId: input.messageId,
    relatesTo: input.relatesTo,
    body:
      `<s:Fault><s:Code><s:Value>s:${fault.code}</s:Value><s:Subcode><s:Value>${fault.subcode}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en-US">${escapeXml(fault.reason)}</s:Text></s:Reason>` +
      (input.detail ? `<s:Detail><w:FaultDetail>${escapeXml(input.detail)}</w:FaultDetail></s:Detail>` : '') +
      '</s:Fault>',
  });
}

// Rules that tie several parameters together, which the schema alone does not express. Pure.
import { DEFAULT_CACHE_KEY, unusableKeys } from '../cache/keys.js';
import type { Params } from '../config.js';
import { paramsInvalid } from './validate.js';

/** Throws PARAMS_INVALID listing every broken rule. */
export function checkRules(params: Params): Params {
  const problems: string[] = [];
  const tcp = [params.endpoint, ...(params.endpoints ?? []), ...Object.values(params.platform_endpoints ?? {})].some((endpoint) => endpoint.startsWith('tcp://'));
  if (params.platform_endpoints !== undefined && params.endpoints !== undefined) problems.push('platform_endpoints: cannot be combined with endpoints (a node per platform is the routing)');
  const missingNode = (params.platforms ?? []).filter((platform) => params.platform_endpoints !== undefined && !(platform in params.platform_endpoints));
  if (missingNode.length > 0) problems.push(`platforms: ${missingNode.join(', ')} has no daemon in platform_endpoints`);
  if (params.tls_dir !== undefined && !tcp) problems.push(`tls_dir: only used with a tcp:// endpoint (endpoint is ${params.endpoint})`);
  if (params.tls_server_name !== undefined && params.tls_dir === undefined) problems.push('tls_server_name: needs tls_dir');
  if (params.sbom_generator !== undefined && !params.sbom) problems.push('sbom_generator: needs sbom: true');
  if (params.oci_tar && params.push && params.oci_layout === undefined) problems.push('oci_tar: needs oci_layout when push is true');
  // Keys without cache_repo are ignored, not refused: a pipeline passes the branch to every build.
  if (params.cache_repo !== undefined) problems.push(...unusableKeys(params.cache_key ?? DEFAULT_CACHE_KEY, params.cache_fallback_keys ?? []));
  if (problems.length > 0) throw paramsInvalid(problems);
  return params;
}

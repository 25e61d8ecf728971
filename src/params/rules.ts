// Rules that tie several parameters together, which the schema alone does not express. Pure.
import { unusableKeys } from '../cache/keys.js';
import type { Params } from '../config.js';
import { paramsInvalid } from './validate.js';

/** Throws PARAMS_INVALID listing every broken rule. */
export function checkRules(params: Params): Params {
  const problems: string[] = [];
  const tcp = [params.endpoint, ...(params.endpoints ?? []), ...Object.values(params.platform_endpoints ?? {})].some(
    (endpoint) => endpoint.startsWith('tcp://'),
  );
  if (params.platform_endpoints !== undefined && params.endpoints !== undefined)
    problems.push('platform_endpoints: cannot be combined with endpoints (a node per platform is the routing)');
  const missingNode = (params.platforms ?? []).filter(
    (platform) => params.platform_endpoints !== undefined && !(platform in params.platform_endpoints),
  );
  if (missingNode.length > 0) problems.push(`platforms: ${missingNode.join(', ')} has no daemon in platform_endpoints`);
  if (params.tls_dir !== undefined && !tcp)
    problems.push(`tls_dir: only used with a tcp:// endpoint (endpoint is ${params.endpoint})`);
  if (params.tls_server_name !== undefined && params.tls_dir === undefined)
    problems.push('tls_server_name: needs tls_dir');
  if (params.sbom_generator !== undefined && !params.sbom) problems.push('sbom_generator: needs sbom: true');
  if (params.oci_tar && params.push && params.oci_layout === undefined)
    problems.push('oci_tar: needs oci_layout when push is true');
  // Keys without cache_repo are ignored, not refused: a pipeline passes the branch to every build.
  if (params.cache_repo !== undefined)
    problems.push(...unusableKeys(params.cache_key, params.cache_fallback_keys ?? []));
  if (params.compression_level !== undefined && params.compression === undefined)
    problems.push('compression_level: needs compression');
  if (params.compression === 'gzip' && (params.compression_level ?? 0) > 9)
    problems.push(`compression_level: gzip levels are 0-9 (got ${params.compression_level})`);
  if (params.force_compression && params.compression === undefined)
    problems.push('force_compression: needs compression');
  if (params.local_export_target !== undefined && params.local_export_dir === undefined)
    problems.push('local_export_target: needs local_export_dir');
  if (params.check_fail_on_warnings && !params.check) problems.push('check_fail_on_warnings: needs check: true');
  if (params.network === 'host' && !(params.allow ?? []).includes('network.host'))
    problems.push(
      'network: host needs allow: ["network.host"] (and a daemon started with --allow-insecure-entitlement network.host)',
    );
  if (problems.length > 0) throw paramsInvalid(problems);
  return params;
}

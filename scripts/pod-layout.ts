// The pod the shipped Tasks, WorkflowTemplates and fleet manifests lay out: who runs as which
// user, and where the buildkitd socket is. gen-tasks.ts and gen-deploy.ts build every file from
// these; the Dockerfile's USER and the READMEs describe the same.
//
// buildx in the step needs only the daemon's socket. buildkitd creates it 0660, owned by its own
// uid and the `--group` gid (default: its own gid), and resets the group itself, so a pod fsGroup
// does not help. Hence:
// - the privileged sidecar runs as root with `--group STEP_GID`: the socket is root:1000 0660,
//   which the unprivileged step user opens (test/image checks that, and that without `--group`
//   the step fails at once with DAEMON_UNREACHABLE / EACCES);
// - the rootless daemon runs as ROOTLESS_DAEMON_UID, the step's own uid and gid, so its socket is
//   1000:1000 0660 and the step reaches it with no extra setting.
import type { ParamsSchema } from '../src/params/schema.generated.js';

/** The step image's user (the node images' `node`), numeric so Kubernetes can enforce runAsNonRoot. */
export const STEP_UID = 1000;
export const STEP_GID = 1000;

/** The rootless image's user (moby/buildkit:*-rootless). */
export const ROOTLESS_DAEMON_UID = 1000;

export const SOCKET_FILE = 'buildkitd.sock';

/** Where the step sees the socket in every variant: the shared volume's mount point. */
export const STEP_SOCKET_DIR = '/run/buildkit';

/** The step's address of the daemon, which the schema gives `endpoint` as its default (tsc checks they agree). */
export const STEP_ENDPOINT =
  `unix://${STEP_SOCKET_DIR}/${SOCKET_FILE}` as const satisfies ParamsSchema['properties']['endpoint']['default'];

/** Where each daemon creates its socket: the privileged one where the step looks, the rootless one in its runtime dir. */
export const DAEMON_SOCKET_DIR = {
  privileged: STEP_SOCKET_DIR,
  rootless: `/run/user/${ROOTLESS_DAEMON_UID}/buildkit`,
} as const;

/** The daemon's `--addr` for its socket in `dir`. */
export const socketAddress = (dir: string): string => `unix://${dir}/${SOCKET_FILE}`;

/** The privileged daemon's flags that hand the socket to the step's group. */
export const SOCKET_GROUP_ARGS = ['--group', String(STEP_GID)] as const;

/** Where each daemon image reads its buildkitd.toml (root, and the rootless user's XDG config dir). */
export const DAEMON_CONFIG_DIR = { privileged: '/etc/buildkit', rootless: '/home/user/.config/buildkit' } as const;

/** Where each daemon image keeps its state (cache, snapshots). */
export const DAEMON_STATE_DIR = {
  privileged: '/var/lib/buildkit',
  rootless: '/home/user/.local/share/buildkit',
} as const;

// ec get-test-images: the original's command for fetching test images; here it needs no registry:
// it imports ecdock-busybox:latest from the host's static busybox (Debian: busybox-static).
import { Command } from 'commander';
import { BUSYBOX_BINARY, DEFAULT_BUSYBOX_IMAGE, ensureBusyboxImage } from '../../runtime/busybox-image';
import { action } from '../action';
import { addGlobalOptions } from '../context';

export function getTestImagesCommand(): Command {
  const cmd = new Command('get-test-images')
    .summary(`import the test image ${DEFAULT_BUSYBOX_IMAGE} (no registry needed)`)
    .description(
      `Import ${DEFAULT_BUSYBOX_IMAGE} into dockerd from ${BUSYBOX_BINARY} (Debian: apt-get install busybox-static):\n` +
        'a shell, ping, ip and friends, enough to try slots. Does nothing if the image is there.',
    )
    .option('--tag <image>', 'the image name to import as', DEFAULT_BUSYBOX_IMAGE)
    .option('--busybox <path>', 'a static busybox binary', BUSYBOX_BINARY);
  addGlobalOptions(cmd, { except: ['db', 'vswitch', 'slot', 'netns'] });
  return cmd.action(
    action<{ tag: string; busybox: string }>(async (ctx, _a, opts) => {
      const docker = ctx.docker();
      const had = await docker.imageExists(opts.tag);
      if (!had) {
        ctx.out.note(`importing ${opts.tag} from ${opts.busybox}...`);
        await ensureBusyboxImage(docker, opts.tag, opts.busybox);
      }
      ctx.out.result(`${opts.tag} ${had ? 'is already there' : 'imported'}: ec start ${opts.tag} sh`, { image: opts.tag, imported: !had });
    }),
  );
}

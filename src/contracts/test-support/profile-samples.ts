// Real keys and hashes for profile tests (made with ssh-keygen, openssl passwd -6 and libxcrypt's yescrypt).
import type { ProvisioningProfile } from '../provisioning-profile.js';

export const ED25519_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbHpVIawVyo/X2KqZ+buRsrJ91CFwi4CilLWrrqbVoe tech@venue';
export const RSA_KEY =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCVaQe3wSkK7QKtqsqYpLmLQvr5+oZqdpqQB1ro1ByczfQFm4MOzV3cUqhXU60qYSdkUL8pVlebVc5Z4UX92WR6Rozn3ab2RIJ9orpd9RFNmBhpEmD+KwAZv1W+Lq6Lp9dHMp4H+acrSisshIfQhQHm4rF7kWzIfCQxKTNbttA1DSiFk/GeM5iBT6iZl4WIs6AfoKx0+d9bQaP97zIT973qZJ9Sz2J47lIizUlLPmFtTKBXg0bbHEWstCA+Oaac/mybXuPpD91Z4/EM15EdjDTxPVZOkcfl5zy2OKkEqw7we1yVVG4H/SnD6jXsp6MDpzSAE/e6Cb0LacOV6x3ZwYrh ops';
/** openssl passwd -6 -salt abcdefgh secret123 */
export const SHA512_HASH = '$6$abcdefgh$L2RkWuRRaXbSPKE2h075RMaIsfsrCKiKdR4CAmWFZdxb7FD5ntuy3JlinIGZEpWPL2s7jolhp7uEtLBxC/4Xq1';
export const YESCRYPT_HASH = '$y$j9T$abcdefghijklmnop$xxI14acrF4kcY59GsyqJ1DqdhVdc9N0f1.omTKnq.61';

/** A profile using every field. */
export const FULL_PROFILE: ProvisioningProfile = {
  wifi: { ssid: 'Venue Karts', passphrase: 'correct horse battery', country: 'DE', hidden: false },
  ssh: { authorized_keys: [ED25519_KEY, RSA_KEY], password_login: false },
  user: { name: 'crew', password_hash: SHA512_HASH },
  time_zone: 'Europe/Berlin',
  keyboard: { layout: 'de', variant: 'nodeadkeys' },
  locale: 'de_DE.UTF-8',
  files: [
    { path: '/etc/kart/identity.conf', mode: '0644', owner: 'crew:crew', content: 'venue={venue_code}\nkart={kart_number}\nhost={hostname}\nserial={serial}\nmac={mac}\n' },
    { path: '/opt/camera/{hostname}.json', mode: '600', owner: 'root', content: '{"kart": "{kart_number}"}\n' },
  ],
  commands: ['echo provisioned {hostname} >/var/log/pitcrew-provisioned'],
};

-- Per image, the first-boot mechanism its cards will use (rpi-preseed, cloud-init, firstrun.sh or none), found by
-- inspecting the image when it is registered, as JSON {flavour, boot_mount, warnings, problem}
-- (contracts/first-boot.ts). NULL for images registered before: the server inspects those in the background.
ALTER TABLE images ADD COLUMN first_boot_preview TEXT;

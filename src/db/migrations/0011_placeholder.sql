-- Reserved for the first-boot check-in; replaced by that change when both are merged.
SELECT 1;

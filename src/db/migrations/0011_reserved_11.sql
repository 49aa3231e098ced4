-- Number held for a change merged alongside this one; replaced by it at the merge.
SELECT 1;

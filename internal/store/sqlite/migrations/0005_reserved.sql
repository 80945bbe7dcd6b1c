-- Reserved: number 5 belongs to the redesign of the events tables made beside this change. Whichever
-- of the two is merged second replaces this file with the other's 0005.
SELECT 1;

PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_invoices` (
	`id` text PRIMARY KEY NOT NULL,
	`amount` integer NOT NULL,
	`issued_at` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_invoices`("id", "amount", "issued_at") SELECT "id", CAST("amount" AS INTEGER), "issued_at" FROM `invoices`;--> statement-breakpoint
DROP TABLE `invoices`;--> statement-breakpoint
ALTER TABLE `__new_invoices` RENAME TO `invoices`;--> statement-breakpoint
PRAGMA foreign_keys=ON;

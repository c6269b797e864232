/** The folder of the built dashboard (index.html and assets/), absolute. */
export declare const dashboardDir: string;

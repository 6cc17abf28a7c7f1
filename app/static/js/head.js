// Runs before the page is drawn (a blocking script in <head>, allowed by the CSP as 'self'):
// marks that JavaScript runs, so the narrow-screen menu can start folded without a flash.
document.documentElement.classList.add("js");
